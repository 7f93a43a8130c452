import type { Queryable, SqlValue } from "../store/store.ts";
import { insertFindings } from "./finding-insert.ts";
import type { FindingRow } from "./findings.ts";
import { timeOrderedUuid } from "./ids.ts";
import type { Desired, RematchResult } from "./rematch.ts";
import { selectIn } from "./sql.ts";
import { type Triage, UNTRIAGED } from "./triage.ts";

/**
 * Reconciliation steps of a re-match: insert new findings (with carried-over triage), resolve
 * vanished ones, update changed ones. Each records what it did in the `RematchResult`.
 */

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

const byFindingKey = (a: Desired, b: Desired): number =>
  compare(a.row.vuln_id, b.row.vuln_id) ||
  compare(a.row.purl, b.row.purl) ||
  compare(a.row.release_id, b.row.release_id);

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export async function insertFresh(
  tx: Queryable,
  fresh: readonly Desired[],
  result: RematchResult,
): Promise<void> {
  if (fresh.length === 0) return;
  const carried = await carriedTriage(tx, fresh);
  // Inserted in the order of the (vuln_id, purl, release_id) unique index, with time-ordered ids
  // (UUIDv7, RFC 9562 §5.7): each index grows at few places instead of at random pages.
  const ordered = [...fresh].sort(byFindingKey);
  const rows: FindingRow[] = ordered.map((d) => {
    const prior = carried.get(`${d.productId}\u0000${d.row.vuln_id}\u0000${d.row.purl}`);
    const triage = prior?.triage ?? UNTRIAGED;
    const row: FindingRow = {
      ...d.row,
      id: timeOrderedUuid(),
      triage_state: triage.state,
      triage: prior ? JSON.stringify(triage) : null,
      triage_source: prior ? `carried-over:${prior.from}` : null,
      triaged_at: prior ? d.row.created_at : null,
    };
    if (prior) result.carriedOver.push({ findingId: row.id, from: prior.from, triage });
    result.events.push({ type: "finding.new", findingId: row.id, row });
    return row;
  });
  await insertFindings(tx, rows);
  result.created += rows.length;
}

export async function resolve(
  tx: Queryable,
  row: FindingRow,
  now: number,
  result: RematchResult,
): Promise<void> {
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

export async function refresh(
  tx: Queryable,
  row: FindingRow,
  want: Desired,
  now: number,
  result: RematchResult,
) {
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
