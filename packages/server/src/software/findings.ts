import { BulwarkError } from "@bulwark/sdk/errors";
import type { FindingSeverity } from "@bulwark/sdk/software/scan";
import { type AuditEntry, appendAudit } from "../audit/audit-log.ts";
import { placeholders } from "../store/placeholders.ts";
import type { Queryable, SqlValue } from "../store/store.ts";
import { findingId, findingKey, findingKeySql, parseFindingId } from "./ids.ts";
import { type Triage, type TriageState, UNTRIAGED } from "./triage.ts";

/** Open while a release's components match the vulnerability; resolved when they no longer do. */
export type FindingStatus = "open" | "resolved";
export type FindingResolution = "no-longer-affected" | "withdrawn";

/** One finding: a release × vulnerability (aliases merged) × component purl. */
export interface Finding {
  id: string;
  releaseId: string;
  vulnerability: string;
  advisories: string[];
  summary: string | null;
  component: { name: string; version: string; purl: string };
  severity: FindingSeverity;
  score: number | null;
  fixedVersions: string[];
  knownExploited: boolean;
  /** CRA Art. 14(1): an actively exploited vulnerability is a reporting candidate for the CRA module. */
  article14Candidate: boolean;
  status: FindingStatus;
  resolution: FindingResolution | null;
  triage: Triage;
  triageSource: string | null;
  triagedAt: number | null;
  createdAt: number;
  updatedAt: number;
  resolvedAt: number | null;
}

/** What a match says about its vulnerability; stored once per distinct content (`finding_details`). */
export interface DetailValues {
  advisory_ids: string;
  summary: string | null;
  severity: FindingSeverity;
  score_tenths: number | null;
  fixed_versions: string;
  known_exploited: number;
}

/** The columns of `finding_details` after its key, in table order. */
export const DETAIL_COLUMNS = [
  "advisory_ids",
  "summary",
  "severity",
  "score_tenths",
  "fixed_versions",
  "known_exploited",
] as const satisfies readonly (keyof DetailValues)[];

/** A match's values in `DETAIL_COLUMNS` order (for inserts and content keys). */
export const detailTuple = (v: DetailValues): SqlValue[] => DETAIL_COLUMNS.map((c) => v[c]);

/** A finding as read: the per-release row joined with its match, details, component and release. */
export interface FindingRow extends DetailValues {
  id: string;
  /** The row key: match_no × RELEASE_SPAN + release_no (`ids.ts`). */
  n: number;
  release_id: string;
  vuln_id: string;
  purl: string;
  package_key: string;
  component_name: string;
  component_version: string;
  article14_candidate: number;
  status: FindingStatus;
  resolution: FindingResolution | null;
  triage_state: TriageState;
  /** NULL until the first decision (under_investigation). */
  triage: string | null;
  triage_source: string | null;
  triaged_at: number | null;
  created_at: number;
  updated_at: number;
  resolved_at: number | null;
}

type StoredFindingRow = Omit<FindingRow, "id"> & {
  legacy_id: string | null;
  id_prefix: string;
  match_no: number;
};

/**
 * Every read of findings goes through this join: the per-release row (`findings`), its match
 * (component purl × vulnerability), the match's details, the component and the release key.
 */
export const FINDING_SELECT = `SELECT f.n, f.legacy_id, k.id_prefix, f.match_no, k.release_id, m.vuln_id, m.purl,
  p.package_key, p.name AS component_name, p.version AS component_version, d.advisory_ids, d.summary, d.severity,
  d.score_tenths, d.fixed_versions, d.known_exploited, f.article14_candidate, f.status, f.resolution,
  f.triage_state, f.triage, f.triage_source, f.triaged_at, f.created_at, f.updated_at, f.resolved_at
  FROM findings f JOIN finding_matches m ON m.match_no = f.match_no
  JOIN finding_details d ON d.detail_no = m.detail_no JOIN component_purls p ON p.purl = m.purl
  JOIN release_keys k ON k.release_no = f.release_no`;

/** `f.n IN (…)`: one release's findings, found through its SBOMs' components and their matches. */
export const RELEASE_FINDINGS = `f.n IN (SELECT ${findingKeySql("rm.match_no", "rk.release_no")}
  FROM sbom_components rc JOIN release_keys rk ON rk.release_id = rc.release_id
  JOIN finding_matches rm ON rm.purl = rc.purl WHERE rc.release_id = ?)`;

function withId(row: StoredFindingRow): FindingRow {
  const { legacy_id, id_prefix, match_no, ...rest } = row;
  return { ...rest, id: legacy_id ?? findingId(id_prefix, Number(match_no)), n: Number(row.n) };
}

/** `FINDING_SELECT` followed by `clause` (WHERE / ORDER BY / LIMIT over the aliases f, m, d, p, k). */
export async function selectFindings(
  db: Queryable,
  clause: string,
  params: readonly SqlValue[] = [],
): Promise<FindingRow[]> {
  return (await db.all<StoredFindingRow>(`${FINDING_SELECT} ${clause}`, params)).map(withId);
}

/** The row key of a finding id (stored or composed); undefined when there is no such finding. */
export async function findingNumber(db: Queryable, id: string): Promise<number | undefined> {
  const legacy = await db.get<{ n: number }>(`SELECT n FROM findings WHERE legacy_id = ?`, [id]);
  if (legacy) return Number(legacy.n);
  const parsed = parseFindingId(id);
  if (!parsed) return undefined;
  const release = await db.get<{ release_no: number }>(
    `SELECT release_no FROM release_keys WHERE id_prefix = ?`,
    [parsed.prefix],
  );
  if (!release) return undefined;
  const n = findingKey(parsed.matchNo, Number(release.release_no));
  const row = await db.get<{ legacy_id: string | null }>(`SELECT legacy_id FROM findings WHERE n = ?`, [n]);
  // A finding with a stored id answers to that id only.
  return row && row.legacy_id === null ? n : undefined;
}

export const toFinding = (r: FindingRow): Finding => ({
  id: r.id,
  releaseId: r.release_id,
  vulnerability: r.vuln_id,
  advisories: JSON.parse(r.advisory_ids) as string[],
  summary: r.summary,
  component: { name: r.component_name, version: r.component_version, purl: r.purl },
  severity: r.severity,
  score: r.score_tenths === null ? null : Number(r.score_tenths) / 10,
  fixedVersions: JSON.parse(r.fixed_versions) as string[],
  knownExploited: Number(r.known_exploited) === 1,
  article14Candidate: Number(r.article14_candidate) === 1,
  status: r.status,
  resolution: r.resolution,
  triage: r.triage === null ? UNTRIAGED : (JSON.parse(r.triage) as Triage),
  triageSource: r.triage_source,
  triagedAt: r.triaged_at === null ? null : Number(r.triaged_at),
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
  resolvedAt: r.resolved_at === null ? null : Number(r.resolved_at),
});

export interface FindingFilter {
  releaseId?: string;
  status?: FindingStatus;
  knownExploited?: boolean;
  article14Candidate?: boolean;
  triageState?: TriageState;
  limit: number;
  offset: number;
}

export async function listFindings(
  db: Queryable,
  filter: FindingFilter,
): Promise<{ items: Finding[]; total: number }> {
  const where: string[] = [];
  const params: SqlValue[] = [];
  const add = (clause: string, value: SqlValue) => {
    where.push(clause);
    params.push(value);
  };
  // Every filter is on `findings` itself (known-exploited through the matches), so the count and
  // the page are found without the join; only the page's rows are read through it.
  if (filter.releaseId !== undefined) add(RELEASE_FINDINGS, filter.releaseId);
  if (filter.status !== undefined) add("f.status = ?", filter.status);
  if (filter.knownExploited !== undefined)
    add(
      `f.match_no IN (SELECT km.match_no FROM finding_matches km
        JOIN finding_details kd ON kd.detail_no = km.detail_no WHERE kd.known_exploited = ?)`,
      filter.knownExploited ? 1 : 0,
    );
  if (filter.article14Candidate !== undefined)
    add("f.article14_candidate = ?", filter.article14Candidate ? 1 : 0);
  if (filter.triageState !== undefined) add("f.triage_state = ?", filter.triageState);
  const clause = where.length ? `WHERE ${where.join(" AND ")}` : "";
  const total = await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM findings f ${clause}`, params);
  const page = (
    await db.all<{ n: number }>(
      `SELECT f.n FROM findings f ${clause} ORDER BY f.created_at, f.n LIMIT ? OFFSET ?`,
      [...params, filter.limit, filter.offset],
    )
  ).map((r) => Number(r.n));
  const rows = page.length
    ? await selectFindings(db, `WHERE f.n IN (${placeholders(page.length)}) ORDER BY f.created_at, f.n`, page)
    : [];
  return { items: rows.map(toFinding), total: Number(total?.n ?? 0) };
}

export async function findingById(db: Queryable, id: string): Promise<Finding | undefined> {
  const n = await findingNumber(db, id);
  if (n === undefined) return undefined;
  const [row] = await selectFindings(db, `WHERE f.n = ?`, [n]);
  return row && toFinding(row);
}

/** Every finding of a release (open and resolved), for VEX export. */
export async function releaseFindings(db: Queryable, releaseId: string): Promise<Finding[]> {
  const rows = await selectFindings(db, `WHERE ${RELEASE_FINDINGS} ORDER BY m.vuln_id, m.purl`, [releaseId]);
  return rows.map(toFinding);
}

/** Sets a finding's triage and appends the audit entry in the same transaction. */
export async function setTriage(
  tx: Queryable,
  findingId: string,
  triage: Triage,
  actor: AuditEntry["actor"],
  source: string,
  now = Date.now(),
): Promise<void> {
  const n = await findingNumber(tx, findingId);
  const [before] = n === undefined ? [] : await selectFindings(tx, `WHERE f.n = ?`, [n]);
  if (!before) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such finding");
  await tx.run(
    `UPDATE findings SET triage_state = ?, triage = ?, triage_source = ?, triaged_at = ?, updated_at = ? WHERE n = ?`,
    [triage.state, JSON.stringify(triage), source, now, now, before.n],
  );
  await appendAudit(tx, {
    actor,
    action: "finding.triage",
    target: { type: "finding", id: findingId },
    outcome: "success",
    details: {
      release: before.release_id,
      vulnerability: before.vuln_id,
      purl: before.purl,
      from: before.triage === null ? UNTRIAGED : (JSON.parse(before.triage) as Triage),
      to: triage,
      source,
    },
  });
}
