import { createHash } from "node:crypto";
import type { KevCatalog, KevEntry } from "@bulwark/sdk/software/kev";
import { emptyComponent, type SbomComponent } from "@bulwark/sdk/software/sbom/model";
import {
  buildOsvIndex,
  type Finding as ScanFinding,
  scanComponent,
  severityRank,
} from "@bulwark/sdk/software/scan";
import { chunks, placeholders } from "../store/placeholders.ts";
import type { Queryable } from "../store/store.ts";
import { advisoriesFor } from "./advisories.ts";
import { detailTuple } from "./findings.ts";
import {
  type DesiredMatch,
  type DetailValues,
  fillMissingHolders,
  insertMatches,
  type Reconciled,
  refreshMatches,
  resolveMatches,
  type StoredMatch,
  storeDetails,
} from "./reconcile.ts";
import type { RematchEvent, RematchEventType, RematchResult } from "./rematch-result.ts";
import { selectIn } from "./sql.ts";

/**
 * Incremental re-matching (CRA Annex I Part II (2), vulnerabilities handled without delay): only the
 * stored components in scope are matched again — those with the given package keys (after an
 * advisory or KEV import), or those of the given releases (after an SBOM upload).
 *
 * Matching works on distinct component purls (`component_purls`), not on each release's copy: each
 * purl is matched once with the engine, and the result is reconciled against the stored matches
 * (`finding_matches`: purl × vulnerability, with content-addressed `finding_details`). Findings —
 * one per match × release holding the purl (`release_components`) — are then written by range
 * statements in SQL (`reconcile.ts`): a new match fans out to every holder with one
 * `INSERT … SELECT`, a vanished one resolves its findings, a changed one updates or reopens them.
 */
/** `vulns` narrows a package scope to the findings of those (canonical) vulnerabilities. */
export type RematchScope =
  | { kind: "packages"; keys: readonly string[]; vulns?: ReadonlySet<string> }
  | { kind: "releases"; ids: readonly string[] };

export type { RematchEvent, RematchEventType, RematchResult };

export const ALL_EVENTS: ReadonlySet<RematchEventType> = new Set([
  "finding.new",
  "finding.known-exploited",
  "finding.known-exploited-removed",
]);

interface PurlRow {
  purl: string;
  package_key: string;
  ecosystem: string;
  package_name: string;
  name: string;
  version: string;
}

const PURL_COLUMNS = `p.purl, p.package_key, p.ecosystem, p.package_name, p.name, p.version`;

// Step 1: the distinct matchable purls in scope, and how many release components hold them.
async function purlsInScope(
  db: Queryable,
  scope: RematchScope,
): Promise<{ purls: PurlRow[]; components: number }> {
  if (scope.kind === "packages") {
    const purls = await selectIn<PurlRow>(
      db,
      (list) => `SELECT ${PURL_COLUMNS} FROM component_purls p
        WHERE p.package_key IN (${list}) AND p.ecosystem IS NOT NULL ORDER BY p.purl`,
      scope.keys,
    );
    const counts = await selectIn<{ n: number }>(
      db,
      (list) => `SELECT COUNT(*) AS n FROM component_purls p JOIN release_components rc ON rc.purl = p.purl
        WHERE p.package_key IN (${list}) AND p.ecosystem IS NOT NULL`,
      scope.keys,
    );
    return { purls, components: counts.reduce((sum, r) => sum + Number(r.n), 0) };
  }
  // A release's purls come from its SBOMs' components (indexed by release).
  const purls = await selectIn<PurlRow>(
    db,
    (list) => `SELECT ${PURL_COLUMNS} FROM component_purls p
      WHERE p.purl IN (SELECT c.purl FROM sbom_components c WHERE c.release_id IN (${list}))
      AND p.ecosystem IS NOT NULL ORDER BY p.purl`,
    scope.ids,
  );
  const counts = await selectIn<{ n: number }>(
    db,
    (list) => `SELECT COUNT(*) AS n FROM (SELECT DISTINCT c.release_id, c.purl FROM sbom_components c
      JOIN component_purls p ON p.purl = c.purl WHERE c.release_id IN (${list}) AND p.ecosystem IS NOT NULL) h`,
    scope.ids,
  );
  return { purls, components: counts.reduce((sum, r) => sum + Number(r.n), 0) };
}

// Step 2: the known-exploited catalogue as the engine reads it.
async function kevCatalog(db: Queryable): Promise<KevCatalog> {
  const rows = await db.all<{ cve_id: string; date_added: string }>(
    `SELECT cve_id, date_added FROM known_exploited`,
  );
  const entries = new Map<string, KevEntry>();
  for (const r of rows)
    entries.set(r.cve_id, {
      cveId: r.cve_id,
      dateAdded: r.date_added,
      vendorProject: "",
      product: "",
      vulnerabilityName: "",
      dueDate: "",
      knownRansomwareCampaignUse: "",
    });
  return { catalogVersion: "stored", dateReleased: "", entries };
}

const matchKey = (purl: string, vuln: string) => `${purl}\u0000${vuln}`;

function asSbomComponent(c: PurlRow): SbomComponent {
  return {
    ...emptyComponent(c.purl, c.name),
    version: c.version,
    purl: c.purl,
    ecosystem: c.ecosystem,
    packageName: c.package_name,
  };
}

// Step 3: match each purl with the engine; one desired match per purl × (canonical) vulnerability.
async function desiredMatches(
  db: Queryable,
  purls: readonly PurlRow[],
  vulns: ReadonlySet<string> | undefined,
  keyOf: (v: DetailValues) => string,
): Promise<Map<string, DesiredMatch>> {
  const desired = new Map<string, DesiredMatch>();
  if (purls.length === 0) return desired;
  const advisories = await advisoriesFor(db, [...new Set(purls.map((p) => p.package_key))]);
  const canonical = new Map(advisories.map((a) => [a.record.id, a.canonicalId]));
  const index = buildOsvIndex(
    advisories.map((a) => a.record),
    await kevCatalog(db),
  );
  // Versions hitting the same advisory entries fold to the same values: folded once per hit list.
  const folded = new Map<string, { vuln: string; values: DetailValues; contentKey: string }[]>();
  for (const p of purls) {
    const hits: ScanFinding[] = [];
    scanComponent(asSbomComponent(p), index, hits);
    if (hits.length === 0) continue;
    const signature = hits.map(hitSignature).join("\u0002");
    let fold = folded.get(signature);
    if (fold === undefined) {
      fold = foldAliases(hits, canonical)
        .filter(([vuln]) => vulns === undefined || vulns.has(vuln))
        .map(([vuln, values]) => ({ vuln, values, contentKey: keyOf(values) }));
      folded.set(signature, fold);
    }
    for (const f of fold) desired.set(matchKey(p.purl, f.vuln), { purl: p.purl, ...f });
  }
  return desired;
}

/**
 * What of a hit the folded values depend on: the advisory (id, summary, aliases) and the fields of
 * the affected entry it matched (fixed versions, CVSS, known-exploited), never the version itself.
 */
const hitSignature = (h: ScanFinding): string =>
  `${h.vulnId}\u0001${h.severity}\u0001${h.score}\u0001${h.knownExploited ? 1 : 0}\u0001${h.fixedVersions.join("\u0001")}`;

/** Content addresses of detail values (SHA-256 of their JSON), memoised per step. */
function contentKeys(): (v: DetailValues) => string {
  const memo = new Map<string, string>();
  return (v) => {
    const json = JSON.stringify(detailTuple(v));
    let key = memo.get(json);
    if (key === undefined) {
      key = createHash("sha256").update(json).digest("base64url");
      memo.set(json, key);
    }
    return key;
  };
}

/** Aliased advisories fold into one finding per vulnerability: ids united, the worst severity kept. */
function foldAliases(
  hits: readonly ScanFinding[],
  canonical: ReadonlyMap<string, string>,
): [string, DetailValues][] {
  const byVuln = new Map<
    string,
    { ids: Set<string>; fixed: Set<string>; hit: ScanFinding; known: boolean }
  >();
  for (const hit of hits) {
    const vuln = canonical.get(hit.vulnId) ?? hit.vulnId;
    const prev = byVuln.get(vuln);
    if (prev === undefined) {
      byVuln.set(vuln, {
        ids: new Set([hit.vulnId]),
        fixed: new Set(hit.fixedVersions),
        hit,
        known: hit.knownExploited,
      });
      continue;
    }
    prev.ids.add(hit.vulnId);
    for (const v of hit.fixedVersions) prev.fixed.add(v);
    prev.known ||= hit.knownExploited;
    const worse =
      severityRank(hit.severity) > severityRank(prev.hit.severity) ||
      (hit.score ?? 0) > (prev.hit.score ?? 0);
    if (worse) prev.hit = { ...hit, summary: hit.summary ?? prev.hit.summary };
  }
  return [...byVuln].map(([vuln, v]) => [
    vuln,
    {
      advisory_ids: JSON.stringify([...v.ids].sort()),
      summary: v.hit.summary ?? null,
      severity: v.hit.severity,
      score_tenths: v.hit.score === undefined ? null : Math.round(v.hit.score * 10),
      fixed_versions: JSON.stringify([...v.fixed].sort()),
      known_exploited: v.known ? 1 : 0,
    },
  ]);
}

// Step 4: the matches already stored for the purls in scope, with their values' content key
// computed here (a detail stored by migration 602 has another key for the same content).
async function storedMatches(
  db: Queryable,
  scope: RematchScope,
  purls: readonly PurlRow[],
  keyOf: (v: DetailValues) => string,
): Promise<StoredMatch[]> {
  const columns = `m.match_no, m.purl, m.vuln_id, m.live, d.advisory_ids, d.summary, d.severity, d.score_tenths,
    d.fixed_versions, d.known_exploited FROM finding_matches m JOIN finding_details d ON d.detail_no = m.detail_no`;
  type Row = Omit<StoredMatch, "content_key"> & DetailValues;
  // A few changed vulnerabilities (an incremental import, KEV) are filtered in SQL too.
  const few = scope.kind === "packages" && scope.vulns !== undefined && scope.vulns.size <= VULNS_IN_SQL;
  const vulnList = few ? [...(scope.vulns ?? [])] : [];
  const byVuln = few ? `AND m.vuln_id IN (${placeholders(vulnList.length)})` : "";
  const rows =
    scope.kind === "packages"
      ? await selectIn<Row>(
          db,
          (list) => `SELECT ${columns} JOIN component_purls p ON p.purl = m.purl
            WHERE p.package_key IN (${list}) AND p.ecosystem IS NOT NULL ${byVuln}`,
          scope.keys,
          vulnList,
        )
      : await selectIn<Row>(
          db,
          (list) => `SELECT ${columns} WHERE m.purl IN (${list})`,
          purls.map((p) => p.purl),
        );
  const vulns = scope.kind === "packages" ? scope.vulns : undefined;
  return rows
    .filter((r) => vulns === undefined || vulns.has(r.vuln_id))
    .map((r) => {
      const values: DetailValues = {
        advisory_ids: r.advisory_ids,
        summary: r.summary,
        severity: r.severity,
        score_tenths: r.score_tenths === null ? null : Number(r.score_tenths),
        fixed_versions: r.fixed_versions,
        known_exploited: Number(r.known_exploited),
      };
      return {
        match_no: Number(r.match_no),
        purl: r.purl,
        vuln_id: r.vuln_id,
        live: Number(r.live),
        advisory_ids: r.advisory_ids,
        known_exploited: values.known_exploited,
        content_key: keyOf(values),
      };
    });
}

/** Up to this many changed vulnerabilities, stored matches are filtered by vulnerability in SQL. */
const VULNS_IN_SQL = 400;

/** Package keys per re-match step: bounds memory whatever the size of an import. */
const KEYS_PER_STEP = 250;

/**
 * Re-matches the scope inside the caller's transaction and reconciles the stored matches and
 * findings. A large package scope is worked through in steps of KEYS_PER_STEP keys, so memory
 * stays bounded; events of the `wanted` types go to `onEvents` step by step (rows are only read
 * back for events someone wants).
 */
export async function rematch(
  tx: Queryable,
  scope: RematchScope,
  onEvents: (events: RematchEvent[]) => Promise<void> = async () => {},
  now = Date.now(),
  wanted: ReadonlySet<RematchEventType> = ALL_EVENTS,
): Promise<RematchResult> {
  const result: RematchResult = {
    components: 0,
    created: 0,
    reopened: 0,
    resolved: 0,
    updated: 0,
    carriedOver: [],
    unexploited: [],
    events: [],
  };
  const steps: RematchScope[] =
    scope.kind === "packages"
      ? chunks([...new Set(scope.keys)].sort(), KEYS_PER_STEP).map((keys) => ({
          kind: "packages",
          keys,
          vulns: scope.vulns,
        }))
      : [scope];
  for (const step of steps) {
    await rematchStep(tx, step, { now, wanted, result });
    await onEvents(result.events);
    result.events = [];
  }
  return result;
}

async function rematchStep(tx: Queryable, scope: RematchScope, run: Reconciled): Promise<void> {
  const releaseNos =
    scope.kind === "releases"
      ? (
          await selectIn<{ release_no: number }>(
            tx,
            (list) => `SELECT release_no FROM release_keys WHERE release_id IN (${list})`,
            scope.ids,
          )
        ).map((r) => Number(r.release_no))
      : [];
  if (scope.kind === "releases" && releaseNos.length === 0) return;
  const { purls, components } = await purlsInScope(tx, scope);
  run.result.components += components;
  const keyOf = contentKeys();
  // Desired matches come in purl order (new matches are numbered in it).
  const desired = await desiredMatches(tx, purls, scope.kind === "packages" ? scope.vulns : undefined, keyOf);
  const stored = await storedMatches(tx, scope, purls, keyOf);
  // Diff: vanished, changed (or revived), unchanged, new.
  const byKey = new Map(stored.map((s) => [matchKey(s.purl, s.vuln_id), s]));
  const vanished = stored.filter((s) => s.live === 1 && !desired.has(matchKey(s.purl, s.vuln_id)));
  const changed: { stored: StoredMatch; want: DesiredMatch }[] = [];
  const kept: number[] = [];
  const fresh: DesiredMatch[] = [];
  for (const [key, want] of desired) {
    const s = byKey.get(key);
    if (s === undefined) fresh.push(want);
    else if (s.live !== 1 || s.content_key !== want.contentKey) changed.push({ stored: s, want });
    else kept.push(s.match_no);
  }
  const details = await storeDetails(tx, [...fresh, ...changed.map((c) => c.want)]);
  await resolveMatches(tx, vanished, run);
  await refreshMatches(tx, changed, details, run);
  await insertMatches(tx, fresh, details, run);
  // Holders still without a finding of a live match: a release whose SBOM arrived later, or a
  // revived match's new holders. Within a release scope only that release's holders.
  await fillMissingHolders(
    tx,
    [...kept, ...changed.map((c) => c.stored.match_no)],
    scope.kind === "releases" ? releaseNos : undefined,
    run,
  );
}
