import type { KeyObject } from "node:crypto";
import { type ChainResult, ChainVerifier, entryHash, GENESIS_HASH } from "@bulwark/sdk/audit/chain";
import type { Queryable } from "../store/store.ts";
import { auditAnchor, listCheckpoints, putSetting } from "./checkpoints.ts";

export { entryHash, GENESIS_HASH };

/**
 * The append-only, hash-chained audit log (CRA Annex I Part I (2)(l)): every security-relevant
 * action with actor, time, target and outcome. Each entry's hash is SHA-256 over the previous
 * hash and the canonical encoding of the entry, so editing, deleting, inserting or reordering any
 * entry breaks every later hash.
 */
export type ActorType = "user" | "api-key" | "device" | "system" | "anonymous";
export type Outcome = "success" | "failure" | "denied";

export interface AuditEntry {
  actor: { type: ActorType; id?: string };
  action: string;
  target?: { type: string; id: string };
  outcome: Outcome;
  details?: Record<string, unknown>;
}

export interface StoredAuditEntry {
  seq: number;
  at: number;
  actorType: ActorType;
  actorId: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  outcome: Outcome;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

/**
 * Appends one entry. Call it inside the transaction of the action it records, so the record and
 * the action commit together; the head row update serialises concurrent writers on every store.
 */
export async function appendAudit(
  tx: Queryable,
  entry: AuditEntry,
  at = Date.now(),
): Promise<StoredAuditEntry> {
  // Take the head row's write lock before reading it: on PostgreSQL (READ COMMITTED) a concurrent
  // writer waits here and then reads the committed head, instead of failing the conditional UPDATE.
  await tx.run(`UPDATE audit_head SET seq = seq WHERE id = 1`);
  const head = await tx.get<{ seq: number; hash: string }>(`SELECT seq, hash FROM audit_head WHERE id = 1`);
  if (!head) throw new Error("audit log head is missing");
  const stored: Omit<StoredAuditEntry, "hash"> = {
    seq: Number(head.seq) + 1,
    at,
    actorType: entry.actor.type,
    actorId: entry.actor.id ?? null,
    action: entry.action,
    targetType: entry.target?.type ?? null,
    targetId: entry.target?.id ?? null,
    outcome: entry.outcome,
    details: entry.details ?? {},
    prevHash: head.hash,
  };
  const hash = entryHash(stored);
  const moved = await tx.run(`UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1 AND seq = ?`, [
    stored.seq,
    hash,
    head.seq,
  ]);
  if (moved.changes !== 1) throw new Error("audit log head moved concurrently");
  await tx.run(
    `INSERT INTO audit_log (seq, at, actor_type, actor_id, action, target_type, target_id, outcome, details, prev_hash, hash)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      stored.seq,
      stored.at,
      stored.actorType,
      stored.actorId,
      stored.action,
      stored.targetType,
      stored.targetId,
      stored.outcome,
      JSON.stringify(stored.details),
      stored.prevHash,
      hash,
    ],
  );
  return { ...stored, hash };
}

interface AuditRow {
  seq: number;
  at: number;
  actor_type: ActorType;
  actor_id: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  outcome: Outcome;
  details: string;
  prev_hash: string;
  hash: string;
}

export const toStoredEntry = (row: AuditRow): StoredAuditEntry => ({
  seq: Number(row.seq),
  at: Number(row.at),
  actorType: row.actor_type,
  actorId: row.actor_id,
  action: row.action,
  targetType: row.target_type,
  targetId: row.target_id,
  outcome: row.outcome,
  details: JSON.parse(row.details) as Record<string, unknown>,
  prevHash: row.prev_hash,
  hash: row.hash,
});

export async function listAudit(
  db: Queryable,
  options: { afterSeq?: number; limit: number },
): Promise<StoredAuditEntry[]> {
  const rows = await db.all<AuditRow>(`SELECT * FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?`, [
    options.afterSeq ?? 0,
    options.limit,
  ]);
  return rows.map(toStoredEntry);
}

export async function auditHead(db: Queryable): Promise<{ seq: number; hash: string }> {
  const head = await db.get<{ seq: number; hash: string }>(`SELECT seq, hash FROM audit_head WHERE id = 1`);
  if (!head) throw new Error("audit log head is missing");
  return { seq: Number(head.seq), hash: head.hash };
}

/**
 * Pushes the entries after `afterSeq` up to `uptoSeq` through the verifier, in pages, until a
 * problem. The bound is the head read before the walk: entries appended meanwhile are left to the
 * next verification instead of making the head look moved.
 */
async function walk(
  db: Queryable,
  verifier: ChainVerifier,
  afterSeq: number,
  uptoSeq: number,
): Promise<void> {
  for (let after = afterSeq; after < uptoSeq; ) {
    const rows = await db.all<AuditRow>(
      `SELECT * FROM audit_log WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT 1000`,
      [after, uptoSeq],
    );
    if (rows.length === 0) return;
    for (const row of rows) if (!verifier.push(toStoredEntry(row))) return;
    after = Number(rows[rows.length - 1]!.seq);
  }
}

/**
 * The signed checkpoints from `fromSeq` on. Read BEFORE the head: each was made from a head no
 * later than the one read after it, so one beyond the walked head still means a truncated log,
 * while a checkpoint made during the walk is simply not among them.
 */
async function checkpointsFrom(db: Queryable, fromSeq: number) {
  return (await listCheckpoints(db)).filter((c) => c.seq >= fromSeq);
}

/**
 * Walks the whole chain in pages from the retention anchor (or genesis), then checks every signed
 * checkpoint (signature, when a public key is given, and hash at its seq) and the head row.
 */
export async function verifyAuditChain(db: Queryable, publicKey?: KeyObject): Promise<ChainResult> {
  return (await fullWalk(db, publicKey)).result;
}

async function fullWalk(
  db: Queryable,
  publicKey?: KeyObject,
): Promise<{ result: ChainResult; lastHash: string }> {
  // Every checkpoint (those before the anchor still have their signatures checked), then the head.
  const checkpoints = await checkpointsFrom(db, 0);
  const head = await auditHead(db);
  const anchor = await auditAnchor(db);
  const verifier = new ChainVerifier(anchor);
  await walk(db, verifier, anchor?.seq ?? 0, head.seq);
  const result = verifier.finish({ checkpoints, publicKey, head });
  return { result, lastHash: verifier.lastHash };
}

/**
 * The last verified point of the chain (seq and hash of an entry every entry up to which verified),
 * and when the full verification it rests on ran. Kept in settings; an incremental verification
 * walks only the entries after it.
 */
export interface VerifiedPoint {
  seq: number;
  hash: string;
  /** When the chain was last verified up to `seq`. */
  verifiedAt: number;
  /** When the last full verification (from the anchor or genesis) ran; entries before `seq` were read then. */
  fullAt: number;
}

const VERIFIED_SETTING = "audit.verified";

export async function verifiedPoint(db: Queryable): Promise<VerifiedPoint | undefined> {
  const row = await db.get<{ value: string }>(`SELECT value FROM settings WHERE key = ?`, [VERIFIED_SETTING]);
  return row ? (JSON.parse(row.value) as VerifiedPoint) : undefined;
}

async function setVerifiedPoint(db: Queryable, point: VerifiedPoint | undefined): Promise<void> {
  if (point === undefined) await db.run(`DELETE FROM settings WHERE key = ?`, [VERIFIED_SETTING]);
  else await putSetting(db, VERIFIED_SETTING, JSON.stringify(point));
}

/** What a verification covered: full (every entry) or incremental (entries after a verified point). */
export interface AuditVerification extends ChainResult {
  mode: "full" | "incremental";
  /** The verified point an incremental run started from (entries up to it were not read again). */
  from?: { seq: number; hash: string };
  /** When the full verification the result rests on ran (this run's time for a full one). */
  fullAt: number;
}

/**
 * A full verification (every entry, every checkpoint, the head) that records its head as the
 * verified point on success, and forgets the verified point on failure, so that every later
 * verification is full again, and fails again, until the chain is repaired.
 */
export async function verifyAuditChainFull(
  db: Queryable,
  publicKey?: KeyObject,
  now = Date.now(),
): Promise<AuditVerification> {
  const { result, lastHash } = await fullWalk(db, publicKey);
  await setVerifiedPoint(
    db,
    result.problem ? undefined : { seq: result.lastSeq, hash: lastHash, verifiedAt: now, fullAt: now },
  );
  return { ...result, mode: "full", fullAt: now };
}

/** How old the last full verification may be before an incremental request does a full one itself. */
export const FULL_VERIFICATION_MAX_AGE_MS = 2 * 3600 * 1000;

/**
 * Verifies only the entries after the last verified point (issue #16: the Annex I matrix verified
 * the whole chain on every request). Tamper detection is kept as follows:
 * - entries after the point: walked and hashed as in a full verification, with the checkpoints
 *   and the head row;
 * - the point itself: its entry must still carry the verified hash, and the number of entries up
 *   to it must still be what it was (an entry deleted or inserted before it is caught at once);
 * - an entry edited in place before the point: caught by the next full verification, which runs
 *   when the point is older than `maxAgeMs` (the audit maintenance runs one every hour), on
 *   `GET /api/v1/audit/verify`, and on `?full=1` of the matrix.
 * Without a verified point (none yet, the last verification failed, or retention pruned past it)
 * the verification is full.
 */
export async function verifyAuditChainIncremental(
  db: Queryable,
  options: { publicKey?: KeyObject; now?: number; maxAgeMs?: number } = {},
): Promise<AuditVerification> {
  const now = options.now ?? Date.now();
  const point = await verifiedPoint(db);
  const anchor = await auditAnchor(db);
  const anchorSeq = anchor?.seq ?? 0;
  if (
    !point ||
    point.seq <= anchorSeq ||
    now - point.fullAt > (options.maxAgeMs ?? FULL_VERIFICATION_MAX_AGE_MS)
  )
    return verifyAuditChainFull(db, options.publicKey, now);
  const from = { seq: point.seq, hash: point.hash };
  const fail = async (problem: ChainResult["problem"] & {}): Promise<AuditVerification> => {
    await setVerifiedPoint(db, undefined);
    return {
      entries: 0,
      checkpoints: 0,
      firstSeq: point.seq + 1,
      lastSeq: point.seq,
      problem,
      mode: "incremental",
      from,
      fullAt: point.fullAt,
    };
  };
  const at = await db.get<{ hash: string }>(`SELECT hash FROM audit_log WHERE seq = ?`, [point.seq]);
  if (!at || at.hash !== point.hash) return fail({ seq: point.seq, problem: "checkpoint-mismatch" });
  const before = await db.get<{ n: number }>(
    `SELECT COUNT(*) AS n FROM audit_log WHERE seq > ? AND seq <= ?`,
    [anchorSeq, point.seq],
  );
  if (Number(before?.n ?? 0) !== point.seq - anchorSeq) return fail({ seq: point.seq, problem: "gap" });
  const checkpoints = await checkpointsFrom(db, point.seq);
  const head = await auditHead(db);
  const verifier = new ChainVerifier(from, { startVerified: true });
  await walk(db, verifier, point.seq, head.seq);
  const result = verifier.finish({ checkpoints, publicKey: options.publicKey, head });
  await setVerifiedPoint(
    db,
    result.problem
      ? undefined
      : { seq: result.lastSeq, hash: verifier.lastHash, verifiedAt: now, fullAt: point.fullAt },
  );
  return { ...result, mode: "incremental", from, fullAt: point.fullAt };
}
