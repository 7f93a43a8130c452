import { randomUUID } from "node:crypto";
import type { KevCatalog, KevEntry } from "@bulwark/sdk/software/kev";
import type { SbomComponent } from "@bulwark/sdk/software/sbom/model";
import {
  buildOsvIndex,
  type Finding as ScanFinding,
  scanComponent,
  severityRank,
} from "@bulwark/sdk/software/scan";
import type { Queryable, SqlValue } from "../store/store.ts";
import { advisoriesFor } from "./advisories.ts";
import { FINDING_COLUMNS, type FindingRow, rowValues } from "./findings.ts";
import { chunks, insertMany, selectIn } from "./sql.ts";
import { type Triage, UNTRIAGED } from "./triage.ts";

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

interface Desired {
  row: Omit<FindingRow, "id" | "triage_state" | "triage" | "triage_source" | "triaged_at">;
  productId: string;
}

const findingKey = (release: string, vuln: string, purl: string) => `${release}\u0000${vuln}\u0000${purl}`;

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

// Step 5: the latest triage decision on the same product, vulnerability and component version.
async function carriedTriage(
  db: Queryable,
  fresh: readonly Desired[],
): Promise<Map<string, { from: string; triage: Triage }>> {
  const rows = await selectIn<{
    id: string;
    vuln_id: string;
    purl: string;
    triage: string | null;
    product_id: string;
    triaged_at: number;
  }>(
    db,
    (list) => `SELECT f.id, f.vuln_id, f.purl, f.triage, r.product_id, f.triaged_at FROM findings f
      JOIN releases r ON r.id = f.release_id WHERE f.triaged_at IS NOT NULL AND f.vuln_id IN (${list})`,
    fresh.map((d) => d.row.vuln_id),
  );
  const best = new Map<string, { from: string; triage: Triage; at: number }>();
  for (const r of rows) {
    const key = `${r.product_id}\u0000${r.vuln_id}\u0000${r.purl}`;
    const at = Number(r.triaged_at ?? 0);
    if ((best.get(key)?.at ?? -1) < at)
      best.set(key, {
        from: r.id,
        triage: r.triage === null ? UNTRIAGED : (JSON.parse(r.triage) as Triage),
        at,
      });
  }
  return best;
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
      ? chunks([...new Set(scope.keys)], KEYS_PER_STEP).map((keys) => ({
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

async function insertFresh(tx: Queryable, fresh: readonly Desired[], result: RematchResult): Promise<void> {
  if (fresh.length === 0) return;
  const carried = await carriedTriage(tx, fresh);
  const rows: FindingRow[] = fresh.map((d) => {
    const prior = carried.get(`${d.productId}\u0000${d.row.vuln_id}\u0000${d.row.purl}`);
    const triage = prior?.triage ?? UNTRIAGED;
    const row: FindingRow = {
      ...d.row,
      id: randomUUID(),
      triage_state: triage.state,
      triage: prior ? JSON.stringify(triage) : null,
      triage_source: prior ? `carried-over:${prior.from}` : null,
      triaged_at: prior ? d.row.created_at : null,
    };
    if (prior) result.carriedOver.push({ findingId: row.id, from: prior.from, triage });
    result.events.push({ type: "finding.new", findingId: row.id, row });
    return row;
  });
  await insertMany(tx, "findings", FINDING_COLUMNS, rows.map(rowValues));
  result.created += rows.length;
}

async function resolve(tx: Queryable, row: FindingRow, now: number, result: RematchResult): Promise<void> {
  const ids = JSON.parse(row.advisory_ids) as string[];
  const live = await selectIn<{ id: string }>(
    tx,
    (list) => `SELECT id FROM vulnerabilities WHERE id IN (${list}) AND withdrawn IS NULL`,
    ids,
  );
  // OSV schema §withdrawn: a finding that only rested on withdrawn records is resolved as withdrawn.
  const resolution = live.length === 0 ? "withdrawn" : "no-longer-affected";
  await tx.run(
    `UPDATE findings SET status = 'resolved', resolution = ?, resolved_at = ?, updated_at = ? WHERE id = ?`,
    [resolution, now, now, row.id],
  );
  result.resolved++;
}

async function refresh(tx: Queryable, row: FindingRow, want: Desired, now: number, result: RematchResult) {
  const w = want.row;
  const reopened = row.status === "resolved";
  const newlyExploited = Number(row.known_exploited) === 0 && w.known_exploited === 1;
  const changed =
    reopened ||
    newlyExploited ||
    row.severity !== w.severity ||
    row.score_tenths !== w.score_tenths ||
    row.advisory_ids !== w.advisory_ids ||
    row.fixed_versions !== w.fixed_versions ||
    Number(row.known_exploited) !== w.known_exploited;
  if (!changed) return;
  const article14 = Number(row.article14_candidate) === 1 || newlyExploited ? 1 : 0;
  const params: SqlValue[] = [
    w.severity,
    w.score_tenths,
    w.advisory_ids,
    w.fixed_versions,
    w.known_exploited,
    article14,
    now,
    row.id,
  ];
  await tx.run(
    `UPDATE findings SET severity = ?, score_tenths = ?, advisory_ids = ?, fixed_versions = ?, known_exploited = ?,
      article14_candidate = ?, status = 'open', resolution = NULL, resolved_at = NULL, updated_at = ? WHERE id = ?`,
    params,
  );
  const updated: FindingRow = {
    ...row,
    ...w,
    id: row.id,
    created_at: row.created_at,
    article14_candidate: article14,
  };
  if (reopened) {
    result.reopened++;
    result.events.push({ type: "finding.new", findingId: row.id, row: updated });
  } else result.updated++;
  if (newlyExploited)
    result.events.push({ type: "finding.known-exploited", findingId: row.id, row: updated });
}
