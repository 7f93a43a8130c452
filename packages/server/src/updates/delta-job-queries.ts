import type { DeltaFormat } from "@bulwark/sdk/wire/delta";
import type { Queryable } from "../store/store.ts";

/**
 * A delta computed after publish, in the background (`delta_jobs`, migration 985): pending until a
 * process claims it, computing (with its progress in segments) while one holds the claim, then
 * ready (its target signed), skipped (no smaller than the full image) or failed (the reason).
 */
export type DeltaJobState = "pending" | "computing" | "ready" | "skipped" | "failed";

/** The states a delta job may still leave: a `require` deployment of its release waits on them. */
export const OPEN_DELTA_JOB_STATES: readonly DeltaJobState[] = ["pending", "computing"];

export interface DeltaJob {
  id: string;
  releaseId: string;
  productId: string;
  artifactName: string;
  baseReleaseId: string;
  baseVersion: string;
  baseSha256: string;
  format: DeltaFormat;
  state: DeltaJobState;
  reason: string | null;
  /** Segments done of `total` (reset when a computation starts again). */
  progress: { done: number; total: number };
  /** How many times a process claimed it (more than 1: a process died or lost its claim). */
  attempts: number;
  /** Its `artifact_deltas` row once ready. */
  deltaId: string | null;
  owner: string | null;
  leaseUntil: number | null;
  createdAt: string;
  updatedAt: string;
}

interface Row {
  id: string;
  release_id: string;
  product_id: string;
  artifact_name: string;
  base_release_id: string;
  base_version: string;
  base_sha256: string;
  format: DeltaFormat;
  state: DeltaJobState;
  reason: string | null;
  done_units: number | string;
  total_units: number | string;
  owner: string | null;
  lease_until: number | string | null;
  attempts: number | string;
  delta_id: string | null;
  created_at: number | string;
  updated_at: number | string;
}

const toJob = (r: Row): DeltaJob => ({
  id: r.id,
  releaseId: r.release_id,
  productId: r.product_id,
  artifactName: r.artifact_name,
  baseReleaseId: r.base_release_id,
  baseVersion: r.base_version,
  baseSha256: r.base_sha256,
  format: r.format,
  state: r.state,
  reason: r.reason,
  progress: { done: Number(r.done_units), total: Number(r.total_units) },
  attempts: Number(r.attempts),
  deltaId: r.delta_id,
  owner: r.owner,
  leaseUntil: r.lease_until === null ? null : Number(r.lease_until),
  createdAt: new Date(Number(r.created_at)).toISOString(),
  updatedAt: new Date(Number(r.updated_at)).toISOString(),
});

export async function insertDeltaJob(
  db: Queryable,
  job: Pick<
    DeltaJob,
    | "id"
    | "releaseId"
    | "productId"
    | "artifactName"
    | "baseReleaseId"
    | "baseVersion"
    | "baseSha256"
    | "format"
  > & { totalUnits: number },
): Promise<void> {
  const now = Date.now();
  await db.run(
    `INSERT INTO delta_jobs (id, release_id, product_id, artifact_name, base_release_id, base_version, base_sha256,
       format, state, total_units, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)`,
    [
      job.id,
      job.releaseId,
      job.productId,
      job.artifactName,
      job.baseReleaseId,
      job.baseVersion,
      job.baseSha256,
      job.format,
      job.totalUnits,
      now,
      now,
    ],
  );
}

export async function deltaJobsOf(db: Queryable, releaseId: string): Promise<DeltaJob[]> {
  const rows = await db.all<Row>(
    `SELECT * FROM delta_jobs WHERE release_id = ? ORDER BY artifact_name, base_version, id`,
    [releaseId],
  );
  return rows.map(toJob);
}

export async function deltaJobById(db: Queryable, id: string): Promise<DeltaJob | undefined> {
  const row = await db.get<Row>(`SELECT * FROM delta_jobs WHERE id = ?`, [id]);
  return row && toJob(row);
}

/**
 * Who may take a job over: one pending, or one computing whose claim's lease ran out (its process
 * died, or stalled past the lease). `anyOtherOwner`: a computing job claimed by any other owner
 * counts as abandoned at once — true only where one process uses the store (SQLite), so a
 * restarted server takes its own killed computation up without waiting for the lease.
 */
const CLAIMABLE = (anyOtherOwner: boolean) =>
  `(state = 'pending' OR (state = 'computing' AND (lease_until < ?${anyOtherOwner ? " OR owner <> ?" : ""})))`;

/** The oldest job this process may claim now, if any. */
export async function nextClaimableDeltaJob(
  db: Queryable,
  owner: string,
  now: number,
  anyOtherOwner: boolean,
): Promise<string | undefined> {
  const row = await db.get<{ id: string }>(
    `SELECT id FROM delta_jobs WHERE ${CLAIMABLE(anyOtherOwner)} ORDER BY created_at, id LIMIT 1`,
    anyOtherOwner ? [now, owner] : [now],
  );
  return row?.id;
}

/**
 * Claims a job with one conditional UPDATE (two processes racing: one row changes, the other's
 * UPDATE finds it claimed and changes nothing). Its progress starts again at 0: a computation is
 * restarted whole, never resumed from another process's half.
 */
export async function claimDeltaJob(
  db: Queryable,
  id: string,
  owner: string,
  now: number,
  leaseMs: number,
  anyOtherOwner: boolean,
): Promise<boolean> {
  const result = await db.run(
    `UPDATE delta_jobs SET state = 'computing', owner = ?, lease_until = ?, attempts = attempts + 1,
       done_units = 0, updated_at = ? WHERE id = ? AND ${CLAIMABLE(anyOtherOwner)}`,
    [owner, now + leaseMs, now, id, now, ...(anyOtherOwner ? [owner] : [])],
  );
  return result.changes === 1;
}

/** Extends the claim (and records progress); false when the claim was lost (taken over, or ended). */
export async function renewDeltaJob(
  db: Queryable,
  id: string,
  owner: string,
  now: number,
  leaseMs: number,
  done?: number,
): Promise<boolean> {
  const result = await db.run(
    `UPDATE delta_jobs SET lease_until = ?, updated_at = ?${done === undefined ? "" : ", done_units = ?"}
       WHERE id = ? AND owner = ? AND state = 'computing'`,
    [now + leaseMs, now, ...(done === undefined ? [] : [done]), id, owner],
  );
  return result.changes === 1;
}

/** Ends a job this owner holds; false when the claim was lost (nothing changed). */
export async function finishDeltaJob(
  db: Queryable,
  id: string,
  owner: string,
  end: { state: "ready"; deltaId: string } | { state: "skipped" | "failed"; reason: string },
): Promise<boolean> {
  const result = await db.run(
    `UPDATE delta_jobs SET state = ?, reason = ?, delta_id = ?, lease_until = NULL, updated_at = ?,
       done_units = CASE WHEN ? = 'ready' THEN total_units ELSE done_units END
       WHERE id = ? AND owner = ? AND state = 'computing'`,
    [
      end.state,
      "reason" in end ? end.reason : null,
      "deltaId" in end ? end.deltaId : null,
      Date.now(),
      end.state,
      id,
      owner,
    ],
  );
  return result.changes === 1;
}

/** Fails a job claimed too many times (each claim's process died): no endless restarts. */
export async function giveUpDeltaJob(db: Queryable, id: string, reason: string): Promise<boolean> {
  const result = await db.run(
    `UPDATE delta_jobs SET state = 'failed', reason = ?, lease_until = NULL, updated_at = ?
       WHERE id = ? AND state IN ('pending', 'computing')`,
    [reason, Date.now(), id],
  );
  return result.changes === 1;
}

/**
 * Hands a job this owner holds back to the queue (the server stops): another start takes it at
 * once, and the stop does not count as an attempt (`MAX_DELTA_ATTEMPTS` counts processes that died).
 */
export async function releaseDeltaJob(db: Queryable, id: string, owner: string): Promise<boolean> {
  const result = await db.run(
    `UPDATE delta_jobs SET state = 'pending', owner = NULL, lease_until = NULL, done_units = 0,
       attempts = attempts - 1, updated_at = ?
       WHERE id = ? AND owner = ? AND state = 'computing'`,
    [Date.now(), id, owner],
  );
  return result.changes === 1;
}
