import { bestCvss } from "@bulwark/sdk/software/osv/cvss";
import { packageKey } from "@bulwark/sdk/software/osv/names";
import type { OsvRecord } from "@bulwark/sdk/software/osv/types";
import type { Queryable, SqlValue } from "../store/store.ts";
import { insertMany, runIn, selectIn } from "./sql.ts";

/**
 * Stored OSV advisories. One row per OSV id (upserted by id and `modified`), the package keys it
 * affects (the index incremental re-matching works from) and its ids + aliases. Ids that name the
 * same vulnerability (OSV schema §aliases: CVE, GHSA, PYSEC, GO …) share one `canonical_id`, so a
 * vulnerability with several ids is one finding.
 */
export interface AdvisoryBatchResult {
  inserted: number;
  updated: number;
  unchanged: number;
  withdrawn: number;
  /** Package keys whose advisories changed: the scope of the re-match. */
  packageKeys: Set<string>;
  /** Canonical ids of the changed advisories: only their findings can change. */
  vulnerabilities: Set<string>;
}

interface Existing {
  id: string;
  modified: string;
  canonical_id: string;
}

const CVE = /^CVE-\d{4}-\d{4,}$/;

/** A later `modified` replaces an earlier one; an equal or older one changes nothing (OSV schema §modified). */
function isNewer(incoming: string, stored: string): boolean {
  const a = Date.parse(incoming);
  const b = Date.parse(stored);
  return Number.isNaN(a) || Number.isNaN(b) ? incoming > stored : a > b;
}

/** Canonical id: an id the group already uses, else its first CVE id, else the record's own id. */
function chooseCanonical(record: OsvRecord, known: readonly string[]): string {
  if (known.length > 0) return [...known].sort()[0]!;
  const cves = [record.id, ...record.aliases].filter((a) => CVE.test(a)).sort();
  return cves[0] ?? record.id;
}

/**
 * The stored package key: the engine's index key (base ecosystem + normalised name) with its NUL
 * separator replaced by ":" (PostgreSQL TEXT holds no NUL; base ecosystem names hold no ":").
 */
export function storedPackageKey(ecosystem: string, name: string): string {
  return packageKey(ecosystem, name).replace("\u0000", ":");
}

export function affectedPackageKeys(record: OsvRecord): string[] {
  const keys = new Set<string>();
  for (const a of record.affected)
    if (a.package) keys.add(storedPackageKey(a.package.ecosystem, a.package.name));
  return [...keys];
}

function scoreOf(record: OsvRecord) {
  return bestCvss([...record.severity, ...record.affected.flatMap((a) => a.severity)]);
}

/**
 * Resolves canonical ids for a batch, consulting ids seen earlier in this import (`seen`) and the
 * stored aliases of other advisories.
 */
async function canonicalIds(
  tx: Queryable,
  records: readonly OsvRecord[],
  seen: Map<string, string>,
): Promise<Map<string, string>> {
  const names = records.flatMap((r) => [r.id, ...r.aliases]);
  const stored = await selectIn<{ alias: string; vuln_id: string; canonical_id: string }>(
    tx,
    (list) => `SELECT a.alias, a.vuln_id, v.canonical_id FROM vulnerability_aliases a
      JOIN vulnerabilities v ON v.id = a.vuln_id WHERE a.alias IN (${list})`,
    names,
  );
  const storedByAlias = new Map<string, { vulnId: string; canonical: string }[]>();
  for (const s of stored) {
    const list = storedByAlias.get(s.alias) ?? [];
    list.push({ vulnId: s.vuln_id, canonical: s.canonical_id });
    storedByAlias.set(s.alias, list);
  }
  const out = new Map<string, string>();
  for (const r of records) {
    const group = [r.id, ...r.aliases];
    const known = new Set<string>();
    for (const name of group) {
      const mine = seen.get(name);
      if (mine !== undefined) known.add(mine);
      // A record keeps the canonical id it already has; others' ids pull it into their group.
      for (const s of storedByAlias.get(name) ?? []) known.add(s.canonical);
    }
    const canonical = chooseCanonical(r, [...known]);
    for (const name of group) if (!seen.has(name)) seen.set(name, canonical);
    out.set(r.id, canonical);
  }
  return out;
}

/** Keeps, per id, the record with the latest `modified` (a bundle may carry one id twice). */
function latestPerId(records: readonly OsvRecord[]): OsvRecord[] {
  const byId = new Map<string, OsvRecord>();
  for (const r of records) {
    const prev = byId.get(r.id);
    if (prev === undefined || isNewer(r.modified, prev.modified)) byId.set(r.id, r);
  }
  return [...byId.values()];
}

/** Upserts one batch of validated records inside the caller's transaction. */
export async function upsertAdvisories(
  tx: Queryable,
  batch: readonly OsvRecord[],
  seen: Map<string, string>,
  now = Date.now(),
): Promise<AdvisoryBatchResult> {
  const result: AdvisoryBatchResult = {
    inserted: 0,
    updated: 0,
    unchanged: 0,
    withdrawn: 0,
    packageKeys: new Set(),
    vulnerabilities: new Set(),
  };
  const records = latestPerId(batch);
  result.unchanged += batch.length - records.length;
  const existing = new Map(
    (
      await selectIn<Existing>(
        tx,
        (list) => `SELECT id, modified, canonical_id FROM vulnerabilities WHERE id IN (${list})`,
        records.map((r) => r.id),
      )
    ).map((e) => [e.id, e]),
  );
  const changed = records.filter((r) => {
    const prev = existing.get(r.id);
    if (prev === undefined || isNewer(r.modified, prev.modified)) return true;
    result.unchanged++;
    return false;
  });
  if (changed.length === 0) return result;
  const changedIds = changed.map((r) => r.id);
  // The packages a record used to affect are re-matched too: a narrowed or withdrawn record resolves findings.
  const before = await selectIn<{ package_key: string }>(
    tx,
    (list) => `SELECT package_key FROM vulnerability_packages WHERE vuln_id IN (${list})`,
    changedIds,
  );
  for (const b of before) result.packageKeys.add(b.package_key);
  const canonical = await canonicalIds(tx, changed, seen);
  const rows: SqlValue[][] = [];
  const aliasRows: SqlValue[][] = [];
  const packageRows: SqlValue[][] = [];
  for (const r of changed) {
    if (existing.has(r.id)) result.updated++;
    else result.inserted++;
    if (r.withdrawn !== undefined) result.withdrawn++;
    const cvss = scoreOf(r);
    const canonicalId = existing.get(r.id)?.canonical_id ?? canonical.get(r.id)!;
    result.vulnerabilities.add(canonicalId);
    rows.push([
      r.id,
      canonicalId,
      r.modified,
      r.withdrawn ?? null,
      r.published ?? null,
      r.summary ?? null,
      cvss?.rating ?? "unknown",
      cvss === undefined ? null : Math.round(cvss.baseScore * 10),
      cvss?.vector ?? null,
      JSON.stringify(r),
      now,
    ]);
    for (const alias of new Set([r.id, ...r.aliases])) aliasRows.push([alias, r.id]);
    for (const key of affectedPackageKeys(r)) {
      packageRows.push([r.id, key]);
      result.packageKeys.add(key);
    }
  }
  await deleteIndexRows(tx, changedIds);
  await insertMany(
    tx,
    "vulnerabilities",
    [
      "id",
      "canonical_id",
      "modified",
      "withdrawn",
      "published",
      "summary",
      "severity",
      "score_tenths",
      "cvss_vector",
      "record",
      "imported_at",
    ],
    rows,
    `ON CONFLICT (id) DO UPDATE SET modified = excluded.modified, withdrawn = excluded.withdrawn,
      published = excluded.published, summary = excluded.summary, severity = excluded.severity,
      score_tenths = excluded.score_tenths, cvss_vector = excluded.cvss_vector, record = excluded.record,
      imported_at = excluded.imported_at`,
  );
  await insertMany(tx, "vulnerability_aliases", ["alias", "vuln_id"], aliasRows);
  await insertMany(tx, "vulnerability_packages", ["vuln_id", "package_key"], packageRows);
  return result;
}

async function deleteIndexRows(tx: Queryable, ids: readonly string[]): Promise<void> {
  await runIn(tx, (list) => `DELETE FROM vulnerability_aliases WHERE vuln_id IN (${list})`, ids);
  await runIn(tx, (list) => `DELETE FROM vulnerability_packages WHERE vuln_id IN (${list})`, ids);
}

export interface StoredAdvisory {
  record: OsvRecord;
  canonicalId: string;
}

/** The live (not withdrawn) advisories affecting any of the package keys. */
export async function advisoriesFor(db: Queryable, keys: readonly string[]): Promise<StoredAdvisory[]> {
  const rows = await selectIn<{ id: string; canonical_id: string; record: string }>(
    db,
    (list) => `SELECT DISTINCT v.id, v.canonical_id, v.record FROM vulnerability_packages p
      JOIN vulnerabilities v ON v.id = p.vuln_id WHERE p.package_key IN (${list}) AND v.withdrawn IS NULL`,
    keys,
  );
  const seen = new Set<string>();
  const out: StoredAdvisory[] = [];
  for (const r of rows) {
    if (seen.has(r.id)) continue;
    seen.add(r.id);
    out.push({ record: JSON.parse(r.record) as OsvRecord, canonicalId: r.canonical_id });
  }
  return out;
}
