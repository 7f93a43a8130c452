import { BulwarkError, type ErrorCode, errorCatalogue } from "@bulwark/sdk/errors";
import { isSoftwareError } from "@bulwark/sdk/software/errors";
import type { KevCatalog } from "@bulwark/sdk/software/kev";
import type { BundleLimits } from "@bulwark/sdk/software/osv/bundle";
import { type AuditEntry, appendAudit } from "../audit/audit-log.ts";
import { releaseById } from "../products/products.ts";
import type { Queryable, Store } from "../store/store.ts";
import { upsertAdvisories } from "./advisories.ts";
import { toFinding } from "./findings.ts";
import { type DocumentParser, inlineParser } from "./parsing/document-parser.ts";
import type { OsvBatch } from "./parsing/osv-stream.ts";
import type { ParsedSbom } from "./parsing/tasks.ts";
import { tallyUnevaluable, type Unevaluable } from "./parsing/unevaluable.ts";
import {
  ALL_EVENTS,
  type RematchEventType,
  type RematchResult,
  type RematchScope,
  rematch,
} from "./rematch.ts";
import { insertSbom, type StoredSbom } from "./sboms.ts";
import { lockMonitor, runIn, selectIn } from "./sql.ts";
import { enqueueEvents, listWebhooks } from "./webhooks/webhooks.ts";

/**
 * The monitoring flows (CRA Annex I Part II (2)): each input — an advisory bundle, the KEV
 * catalogue, an SBOM — is stored, re-matched incrementally and turned into notifications in ONE
 * transaction: a refused input changes nothing; a committed one has its findings and its outbox.
 */
export interface MonitorSummary {
  rematch: Omit<RematchResult, "events" | "carriedOver" | "unexploited"> & {
    carriedOver: number;
    /** Findings that lost known-exploited (KEV removals), each audit-logged. */
    unexploited: number;
    notifications: number;
    /** Wall time of the re-match inside the import's transaction. */
    ms: number;
  };
}

export interface AdvisoryImportSummary extends MonitorSummary {
  records: number;
  inserted: number;
  updated: number;
  unchanged: number;
  withdrawn: number;
  packages: number;
  /** Records stored but skipped by matching: a version does not parse in its ecosystem. */
  unevaluable: Unevaluable;
}

export interface KevImportSummary extends MonitorSummary {
  catalogVersion: string;
  entries: number;
  added: number;
  /** Stored entries the catalogue no longer lists (CISA removed them): deleted. */
  removed: number;
}

export interface SbomAttachSummary extends MonitorSummary {
  sbom: StoredSbom;
}

/** Engine errors carry catalogue codes; anything else is internal. */
export function asBulwarkError(error: unknown, shownPath?: { actual: string; shown: string }): unknown {
  if (!isSoftwareError(error)) return error;
  const code = (error.code in errorCatalogue ? error.code : "BW_ERR_VALIDATION") as ErrorCode;
  // Server-side temporary paths are replaced by the name the caller knows the input by.
  const path =
    shownPath && error.path ? error.path.split(shownPath.actual).join(shownPath.shown) : error.path;
  const where = path === undefined ? "" : ` at ${path}`;
  return new BulwarkError(
    code,
    `${error.message.replace(/^BW_ERR_[A-Z_]+: /, "").replace(/ \(at .*\)$/, "")}${where}`,
    {
      cause: error,
    },
  );
}

/**
 * Records the catalogue as the last imported, refusing one released before it: an import replaces
 * the whole list, so an older file would drop every entry CISA added since (and their findings'
 * flags). The same catalogue again is fine.
 */
async function recordCatalog(tx: Queryable, catalog: KevCatalog): Promise<void> {
  // KEV schema: dateReleased is a date-time; without one, catalogues cannot be put in order.
  const releasedAt = Date.parse(catalog.dateReleased);
  if (!Number.isFinite(releasedAt))
    throw new BulwarkError("BW_ERR_KEV_INVALID", `dateReleased is not a date-time: ${catalog.dateReleased}`);
  const last = await tx.get<{ catalog_version: string; date_released: string; released_at: number }>(
    `SELECT catalog_version, date_released, released_at FROM kev_catalog WHERE id = 1`,
  );
  if (last && releasedAt < Number(last.released_at))
    throw new BulwarkError(
      "BW_ERR_KEV_STALE",
      `catalogue ${catalog.catalogVersion} (released ${catalog.dateReleased}) is older than ${last.catalog_version} (released ${last.date_released}), already imported`,
    );
  await tx.run(
    `INSERT INTO kev_catalog (id, catalog_version, date_released, released_at, entries, imported_at)
      VALUES (1, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET catalog_version = excluded.catalog_version,
      date_released = excluded.date_released, released_at = excluded.released_at, entries = excluded.entries,
      imported_at = excluded.imported_at`,
    [catalog.catalogVersion, catalog.dateReleased, releasedAt, catalog.entries.size, Date.now()],
  );
}

/** The monitoring flows a commit listener hears about. */
export type MonitorFlow = "advisories" | "kev" | "sbom";

/** Called after a flow's transaction committed (never for a refused input), with what it changed. */
export type MonitorCommitListener = (flow: MonitorFlow, summary: MonitorSummary) => void;

export class SoftwareMonitor {
  readonly #store: Store;
  readonly #notify: () => void;
  readonly #committed = new Set<MonitorCommitListener>();
  /** Where untrusted documents are parsed: worker threads in the server, in place in tests. */
  readonly parser: DocumentParser;

  constructor(store: Store, notify: () => void = () => {}, parser: DocumentParser = inlineParser) {
    this.#store = store;
    this.#notify = notify;
    this.parser = parser;
  }

  /**
   * Subscribes to committed flows (a layer above, e.g. CRA Article 14, reacts to new findings
   * without the monitor knowing it). Returns the unsubscribe. A listener's error is its own: it is
   * reported to `onError` (default: ignored) and never undoes or fails the committed flow.
   */
  onCommit(listener: MonitorCommitListener, onError: (error: unknown) => void = () => {}): () => void {
    const guarded: MonitorCommitListener = (flow, summary) => {
      try {
        listener(flow, summary);
      } catch (error) {
        onError(error);
      }
    };
    this.#committed.add(guarded);
    return () => this.#committed.delete(guarded);
  }

  /** Imports an OSV directory / zip / tar(.gz): all or nothing, upsert by id and `modified`. */
  async importAdvisories(
    path: string,
    actor: AuditEntry["actor"],
    options: { limits?: BundleLimits; source?: string } = {},
  ): Promise<AdvisoryImportSummary> {
    const shown = options.source === undefined ? undefined : { actual: path, shown: options.source };
    return this.#run("advisories", shown, async (tx) => {
      const seen = new Map<string, string>();
      const totals = { records: 0, inserted: 0, updated: 0, unchanged: 0, withdrawn: 0 };
      const keys = new Set<string>();
      const vulns = new Set<string>();
      const unevaluable: Unevaluable = { count: 0, records: [] };
      const upsert = async (batch: OsvBatch) => {
        tallyUnevaluable(unevaluable, batch.unevaluable);
        const r = await upsertAdvisories(tx, batch.records, seen);
        totals.records += batch.records.length;
        totals.inserted += r.inserted;
        totals.updated += r.updated;
        totals.unchanged += r.unchanged;
        totals.withdrawn += r.withdrawn;
        for (const k of r.packageKeys) keys.add(k);
        for (const v of r.vulnerabilities) vulns.add(v);
      };
      // Batches of 400 records, read and validated on a worker thread.
      for await (const batch of this.parser.osvBatches(path, options.limits)) await upsert(batch);
      const scope = { kind: "packages", keys: [...keys], vulns } as const;
      const result = await this.#rematchAndNotify(tx, scope, actor);
      const summary = { ...totals, packages: keys.size, unevaluable, rematch: result };
      await appendAudit(tx, {
        actor,
        action: "vulnerabilities.import",
        outcome: "success",
        details: {
          source: options.source ?? "osv",
          ...totals,
          packages: keys.size,
          unevaluable: unevaluable.count,
          findings: result,
        },
      });
      return summary;
    });
  }

  /**
   * Imports the CISA KEV catalogue as the complete current list: entries it no longer lists are
   * deleted, and advisories naming a CVE that was added or removed are re-matched, so findings gain
   * or lose known-exploited (and their Art. 14 candidate flag) in the same transaction.
   */
  async importKev(path: string, actor: AuditEntry["actor"], source?: string): Promise<KevImportSummary> {
    const shown = source === undefined ? undefined : { actual: path, shown: source };
    return this.#run("kev", shown, async (tx) => {
      const catalog = await this.parser.parse({ kind: "kev", path });
      await recordCatalog(tx, catalog);
      const known = new Set(
        (await tx.all<{ cve_id: string }>(`SELECT cve_id FROM known_exploited`)).map((r) => r.cve_id),
      );
      const now = Date.now();
      const added: string[] = [];
      const removed = [...known].filter((cve) => !catalog.entries.has(cve)).sort();
      await runIn(tx, (list) => `DELETE FROM known_exploited WHERE cve_id IN (${list})`, removed);
      for (const e of catalog.entries.values()) {
        if (!known.has(e.cveId)) added.push(e.cveId);
        await tx.run(
          `INSERT INTO known_exploited (cve_id, date_added, due_date, vendor_project, product, vulnerability_name,
            ransomware, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (cve_id) DO UPDATE SET
            date_added = excluded.date_added, due_date = excluded.due_date, ransomware = excluded.ransomware`,
          [
            e.cveId,
            e.dateAdded,
            e.dueDate,
            e.vendorProject,
            e.product,
            e.vulnerabilityName,
            e.knownRansomwareCampaignUse,
            now,
          ],
        );
      }
      const hit = await selectIn<{ package_key: string; canonical_id: string }>(
        tx,
        (list) => `SELECT DISTINCT p.package_key, v.canonical_id FROM vulnerability_aliases a
          JOIN vulnerability_packages p ON p.vuln_id = a.vuln_id
          JOIN vulnerabilities v ON v.id = a.vuln_id WHERE a.alias IN (${list})`,
        [...added, ...removed],
      );
      const scope = {
        kind: "packages",
        keys: hit.map((k) => k.package_key),
        vulns: new Set(hit.map((k) => k.canonical_id)),
      } as const;
      const result = await this.#rematchAndNotify(tx, scope, actor, `kev:${catalog.catalogVersion}`);
      await appendAudit(tx, {
        actor,
        action: "kev.import",
        outcome: "success",
        details: {
          catalogVersion: catalog.catalogVersion,
          entries: catalog.entries.size,
          added: added.length,
          removed: removed.length,
          removedCves: removed,
          findings: result,
        },
      });
      return {
        catalogVersion: catalog.catalogVersion,
        entries: catalog.entries.size,
        added: added.length,
        removed: removed.length,
        rematch: result,
      };
    });
  }

  /** Validates an SBOM, stores it against a release with its minimum-elements report, and matches it. */
  async attachSbom(releaseId: string, text: string, actor: AuditEntry["actor"]): Promise<SbomAttachSummary> {
    let parsed: ParsedSbom;
    try {
      // The route already bounded the body's size; components and nesting are bounded by the parser.
      parsed = await this.parser.parse({
        kind: "sbom",
        text,
        source: "sbom",
        limits: { maxBytes: Number.MAX_SAFE_INTEGER },
      });
    } catch (error) {
      throw asBulwarkError(error);
    }
    return this.#run("sbom", undefined, async (tx) => {
      if (!(await releaseById(tx, releaseId))) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such release");
      const sbom = await insertSbom(tx, releaseId, parsed, text);
      const result = await this.#rematchAndNotify(tx, { kind: "releases", ids: [releaseId] }, actor);
      await appendAudit(tx, {
        actor,
        action: "sbom.attach",
        target: { type: "release", id: releaseId },
        outcome: "success",
        details: {
          sbom: sbom.id,
          format: sbom.format,
          specVersion: sbom.specVersion,
          components: sbom.components,
          findings: result,
        },
      });
      return { sbom, rematch: result };
    });
  }

  /**
   * Runs a flow in one transaction under the monitor lock, maps engine errors to catalogue errors,
   * then wakes the notifier and the commit listeners.
   */
  async #run<T extends MonitorSummary>(
    flow: MonitorFlow,
    shown: { actual: string; shown: string } | undefined,
    work: (tx: Queryable) => Promise<T>,
  ): Promise<T> {
    let summary: T;
    try {
      summary = await this.#store.transaction(async (tx) => {
        // Monitor flows run one at a time across every process (see lockMonitor).
        await lockMonitor(tx);
        return work(tx);
      });
    } catch (error) {
      throw asBulwarkError(error, shown);
    }
    if (summary.rematch.notifications > 0) this.#notify();
    for (const listener of this.#committed) listener(flow, summary);
    return summary;
  }

  async #rematchAndNotify(
    tx: Queryable,
    scope: RematchScope,
    actor: AuditEntry["actor"],
    source = "rematch",
  ) {
    const started = performance.now();
    let notifications = 0;
    // Events are only built for the types some active webhook subscribes to.
    const wanted = new Set(
      (await listWebhooks(tx))
        .filter((h) => h.active)
        .flatMap((h) => h.events)
        .filter((e): e is RematchEventType => ALL_EVENTS.has(e as RematchEventType)),
    );
    const result = await rematch(
      tx,
      scope,
      async (events) => {
        notifications += await enqueueEvents(
          tx,
          events.map((e) => ({ type: e.type, payload: () => toFinding(e.row) })),
        );
      },
      Date.now(),
      wanted,
    );
    // Carried-over triage is a triage change too: each one is audit-logged.
    for (const c of result.carriedOver)
      await appendAudit(tx, {
        actor: { type: "system" },
        action: "finding.triage",
        target: { type: "finding", id: c.findingId },
        outcome: "success",
        details: { to: c.triage, source: `carried-over:${c.from}`, trigger: actor },
      });
    // So is a finding losing known-exploited (KEV removal). An Art. 14 report duty that began when
    // the flag was set is not ended by this (CRA Art. 14(2)): the entry keeps what the flag was.
    for (const u of result.unexploited)
      await appendAudit(tx, {
        actor: { type: "system" },
        action: "finding.known-exploited-removed",
        target: { type: "finding", id: u.findingId },
        outcome: "success",
        details: {
          vulnerability: u.vulnerability,
          knownExploited: false,
          article14CandidateBefore: u.article14Candidate,
          source,
          trigger: actor,
        },
      });
    const { events: _events, carriedOver, unexploited, ...counts } = result;
    const ms = Math.round(performance.now() - started);
    return { ...counts, carriedOver: carriedOver.length, unexploited: unexploited.length, notifications, ms };
  }
}
