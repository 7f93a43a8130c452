import type { KevCatalog, KevEntry } from "@bulwark/sdk/software/kev";
import type { SbomComponent } from "@bulwark/sdk/software/sbom/model";
import {
  buildOsvIndex,
  type Finding as ScanFinding,
  scanComponent,
  severityRank,
} from "@bulwark/sdk/software/scan";
import type { Queryable } from "../store/store.ts";
import { advisoriesFor } from "./advisories.ts";
import type { FindingRow } from "./findings.ts";
import { insertFresh, refresh, resolve } from "./reconcile.ts";
import { chunks, selectIn } from "./sql.ts";
import type { Triage } from "./triage.ts";

/**
 * Incremental re-matching (CRA Annex I Part II (2), vulnerabilities handled without delay): only the
 * stored components in scope are matched again — those with the given package keys (after an
 * advisory or KEV import), or those of the given releases (after an SBOM upload) — and the findings
 * in that scope are reconciled: new ones created (with triage carried over), vanished ones resolved,
 * changed severity / known-exploited updated.
 */
/** `vulns` narrows a package scope to the findings of those (canonical) vulnerabilities. */
export type RematchScope =
  | { kind: "packages"; keys: readonly string[]; vulns?: ReadonlySet<string> }
  | { kind: "releases"; ids: readonly string[] };

export interface RematchEvent {
  type: "finding.new" | "finding.known-exploited";
  findingId: string;
  row: FindingRow;
}

export interface RematchResult {
  components: number;
  created: number;
  reopened: number;
  resolved: number;
  updated: number;
  carriedOver: { findingId: string; from: string; triage: Triage }[];
  events: RematchEvent[];
}

interface ComponentRow {
  release_id: string;
  purl: string;
  name: string;
  version: string;
  ecosystem: string;
  package_name: string;
  package_key: string;
  product_id: string;
}

const COMPONENT_SELECT = `SELECT DISTINCT c.release_id, c.purl, c.name, c.version, c.ecosystem, c.package_name,
  c.package_key, r.product_id FROM sbom_components c JOIN releases r ON r.id = c.release_id
  WHERE c.package_key IS NOT NULL AND c.version IS NOT NULL AND c.purl IS NOT NULL`;

// Step 1: the stored components in scope.
async function componentsInScope(db: Queryable, scope: RematchScope): Promise<ComponentRow[]> {
  switch (scope.kind) {
    case "packages":
      return selectIn<ComponentRow>(
        db,
        (list) => `${COMPONENT_SELECT} AND c.package_key IN (${list})`,
        scope.keys,
      );
    case "releases":
      return selectIn<ComponentRow>(
        db,
        (list) => `${COMPONENT_SELECT} AND c.release_id IN (${list})`,
        scope.ids,
      );
    default: {
      const never: never = scope;
      throw new Error(`unreachable scope ${String(never)}`);
    }
  }
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

export interface Desired {
  row: Omit<FindingRow, "id" | "triage_state" | "triage" | "triage_source" | "triaged_at">;
  productId: string;
}

export const findingKey = (release: string, vuln: string, purl: string) =>
  `${release}\u0000${vuln}\u0000${purl}`;

function asSbomComponent(c: ComponentRow): SbomComponent {
  return {
    ref: c.purl,
    parentRef: undefined,
    type: undefined,
    name: c.name,
    version: c.version,
    purl: c.purl,
    ecosystem: c.ecosystem,
    packageName: c.package_name,
    cpe: undefined,
    supplier: undefined,
    author: undefined,
    hashes: [],
    licenses: [],
    otherIds: [],
  };
}

/** What one vulnerability means for one purl, whichever release holds it. */
type PurlFinding = Pick<
  FindingRow,
  "vuln_id" | "advisory_ids" | "summary" | "severity" | "score_tenths" | "fixed_versions" | "known_exploited"
>;

// Step 3: match each distinct purl once with the engine, then fan out to the releases holding it.
async function desiredFindings(
  db: Queryable,
  components: readonly ComponentRow[],
  now: number,
  vulns: ReadonlySet<string> | undefined,
): Promise<Map<string, Desired>> {
  const keys = [...new Set(components.map((c) => c.package_key))];
  const advisories = await advisoriesFor(db, keys);
  const canonical = new Map(advisories.map((a) => [a.record.id, a.canonicalId]));
  const index = buildOsvIndex(
    advisories.map((a) => a.record),
    await kevCatalog(db),
  );
  const byPurl = new Map<string, PurlFinding[]>();
  const desired = new Map<string, Desired>();
  for (const c of components) {
    let found = byPurl.get(c.purl);
    if (found === undefined) {
      const hits: ScanFinding[] = [];
      scanComponent(asSbomComponent(c), index, hits);
      found = foldAliases(hits, canonical).filter((f) => vulns === undefined || vulns.has(f.vuln_id));
      byPurl.set(c.purl, found);
    }
    for (const f of found)
      desired.set(findingKey(c.release_id, f.vuln_id, c.purl), {
        productId: c.product_id,
        row: {
          ...f,
          release_id: c.release_id,
          purl: c.purl,
          package_key: c.package_key,
          component_name: c.name,
          component_version: c.version,
          article14_candidate: f.known_exploited,
          status: "open",
          resolution: null,
          created_at: now,
          updated_at: now,
          resolved_at: null,
        },
      });
  }
  return desired;
}

/** Aliased advisories fold into one finding per vulnerability: ids united, the worst severity kept. */
function foldAliases(hits: readonly ScanFinding[], canonical: ReadonlyMap<string, string>): PurlFinding[] {
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
  return [...byVuln].map(([vuln, v]) => ({
    vuln_id: vuln,
    advisory_ids: JSON.stringify([...v.ids].sort()),
    summary: v.hit.summary ?? null,
    severity: v.hit.severity,
    score_tenths: v.hit.score === undefined ? null : Math.round(v.hit.score * 10),
    fixed_versions: JSON.stringify([...v.fixed].sort()),
    known_exploited: v.known ? 1 : 0,
  }));
}

/** Up to this many changed vulnerabilities, stored findings are looked up by vulnerability. */
const VULN_LOOKUP_MAX = 2000;

// Step 4: the findings already stored in the same scope.
async function storedInScope(db: Queryable, scope: RematchScope): Promise<FindingRow[]> {
  if (scope.kind === "releases")
    return selectIn<FindingRow>(
      db,
      (list) => `SELECT * FROM findings WHERE release_id IN (${list})`,
      scope.ids,
    );
  const keys = new Set(scope.keys);
  const vulns = scope.vulns;
  if (vulns !== undefined && vulns.size <= VULN_LOOKUP_MAX) {
    const rows = await selectIn<FindingRow>(
      db,
      (list) => `SELECT * FROM findings WHERE vuln_id IN (${list})`,
      [...vulns],
    );
    return rows.filter((r) => keys.has(r.package_key));
  }
  const rows = await selectIn<FindingRow>(
    db,
    (list) => `SELECT * FROM findings WHERE package_key IN (${list})`,
    scope.keys,
  );
  return vulns === undefined ? rows : rows.filter((r) => vulns.has(r.vuln_id));
}

/** Package keys per re-match step: bounds memory whatever the size of an import. */
const KEYS_PER_STEP = 250;

/**
 * Re-matches the scope inside the caller's transaction and reconciles the stored findings. A large
 * package scope is worked through in steps of KEYS_PER_STEP keys, so memory stays bounded; events
 * go to `onEvents` step by step.
 */
export async function rematch(
  tx: Queryable,
  scope: RematchScope,
  onEvents: (events: RematchEvent[]) => Promise<void> = async () => {},
  now = Date.now(),
): Promise<RematchResult> {
  const result: RematchResult = {
    components: 0,
    created: 0,
    reopened: 0,
    resolved: 0,
    updated: 0,
    carriedOver: [],
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
    await rematchStep(tx, step, now, result);
    await onEvents(result.events);
    result.events = [];
  }
  return result;
}

async function rematchStep(
  tx: Queryable,
  scope: RematchScope,
  now: number,
  result: RematchResult,
): Promise<void> {
  const components = await componentsInScope(tx, scope);
  result.components += components.length;
  const vulns = scope.kind === "packages" ? scope.vulns : undefined;
  const desired = components.length
    ? await desiredFindings(tx, components, now, vulns)
    : new Map<string, Desired>();
  const stored = new Map(
    (await storedInScope(tx, scope)).map((r) => [findingKey(r.release_id, r.vuln_id, r.purl), r]),
  );
  const fresh = [...desired.entries()].filter(([k]) => !stored.has(k)).map(([, d]) => d);
  await insertFresh(tx, fresh, result);
  for (const [key, row] of stored) {
    const want = desired.get(key);
    if (want === undefined) {
      if (row.status === "open") await resolve(tx, row, now, result);
    } else await refresh(tx, row, want, now, result);
  }
}
