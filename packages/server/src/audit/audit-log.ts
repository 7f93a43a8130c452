import type { KeyObject } from "node:crypto";
import { type ChainResult, ChainVerifier, entryHash, GENESIS_HASH } from "@bulwark/sdk/audit/chain";
import type { Queryable } from "../store/store.ts";
import { auditAnchor, listCheckpoints } from "./checkpoints.ts";

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
 * Walks the whole chain in pages from the retention anchor (or genesis), then checks every signed
 * checkpoint (signature, when a public key is given, and hash at its seq) and the head row.
 */
export async function verifyAuditChain(db: Queryable, publicKey?: KeyObject): Promise<ChainResult> {
  const anchor = await auditAnchor(db);
  const verifier = new ChainVerifier(anchor);
  for (let afterSeq = anchor?.seq ?? 0; ; ) {
    const page = await listAudit(db, { afterSeq, limit: 1000 });
    if (page.length === 0) break;
    for (const entry of page) if (!verifier.push(entry)) break;
    if (verifier.problem) break;
    afterSeq = page[page.length - 1]!.seq;
  }
  return verifier.finish({ checkpoints: await listCheckpoints(db), publicKey, head: await auditHead(db) });
}
