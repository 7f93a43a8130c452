import type { FindingSeverity } from "@bulwark/sdk/software/scan";
import type { Queryable, SqlValue } from "../store/store.ts";
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

export interface FindingRow {
  id: string;
  release_id: string;
  vuln_id: string;
  purl: string;
  package_key: string;
  component_name: string;
  component_version: string;
  advisory_ids: string;
  summary: string | null;
  severity: FindingSeverity;
  score_tenths: number | null;
  fixed_versions: string;
  known_exploited: number;
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

export const FINDING_COLUMNS = [
  "id",
  "release_id",
  "vuln_id",
  "purl",
  "package_key",
  "component_name",
  "component_version",
  "advisory_ids",
  "summary",
  "severity",
  "score_tenths",
  "fixed_versions",
  "known_exploited",
  "article14_candidate",
  "status",
  "resolution",
  "triage_state",
  "triage",
  "triage_source",
  "triaged_at",
  "created_at",
  "updated_at",
  "resolved_at",
] as const satisfies readonly (keyof FindingRow)[];

export const rowValues = (row: FindingRow): SqlValue[] => FINDING_COLUMNS.map((c) => row[c]);

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
  if (filter.releaseId !== undefined) add("release_id = ?", filter.releaseId);
  if (filter.status !== undefined) add("status = ?", filter.status);
  if (filter.knownExploited !== undefined) add("known_exploited = ?", filter.knownExploited ? 1 : 0);
  if (filter.article14Candidate !== undefined)
    add("article14_candidate = ?", filter.article14Candidate ? 1 : 0);
  if (filter.triageState !== undefined) add("triage_state = ?", filter.triageState);
  const clause = where.length ? `WHERE ${where.join(" AND ")}` : "";
  const total = await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM findings ${clause}`, params);
  const rows = await db.all<FindingRow>(
    `SELECT * FROM findings ${clause} ORDER BY created_at, id LIMIT ? OFFSET ?`,
    [...params, filter.limit, filter.offset],
  );
  return { items: rows.map(toFinding), total: Number(total?.n ?? 0) };
}

export async function findingById(db: Queryable, id: string): Promise<Finding | undefined> {
  const row = await db.get<FindingRow>(`SELECT * FROM findings WHERE id = ?`, [id]);
  return row && toFinding(row);
}

/** Every finding of a release (open and resolved), for VEX export. */
export async function releaseFindings(db: Queryable, releaseId: string): Promise<Finding[]> {
  const rows = await db.all<FindingRow>(
    `SELECT * FROM findings WHERE release_id = ? ORDER BY vuln_id, purl`,
    [releaseId],
  );
  return rows.map(toFinding);
}
