import type { KeyObject } from "node:crypto";
import { type Checkpoint, checkpointMessage } from "@bulwark/sdk/audit/chain";
import type { KeyCustody } from "../custody/key-custody.ts";
import type { Queryable, Store } from "../store/store.ts";

/**
 * Signed checkpoints of the audit log head (CRA Annex I Part I (2)(l)): the (seq, hash) of the
 * head signed with an ECDSA P-256 key held in key custody. Whoever holds the public key can then
 * detect a rewritten chain, even one rewritten consistently by someone with database access.
 */
const KEY_SETTING = "audit.checkpoint-key";
const ANCHOR_SETTING = "audit.anchor";

async function setting(db: Queryable, key: string): Promise<string | undefined> {
  return (await db.get<{ value: string }>(`SELECT value FROM settings WHERE key = ?`, [key]))?.value;
}

export async function putSetting(db: Queryable, key: string, value: string): Promise<void> {
  const { changes } = await db.run(`UPDATE settings SET value = ? WHERE key = ?`, [value, key]);
  if (changes === 0) await db.run(`INSERT INTO settings (key, value) VALUES (?, ?)`, [key, value]);
}

export interface CheckpointSigner {
  keyId: string;
  publicKey: KeyObject;
  publicKeyPem: string;
}

/** The checkpoint key: created in custody on first use, its id kept in settings. */
export async function ensureCheckpointKey(store: Store, custody: KeyCustody): Promise<CheckpointSigner> {
  let keyId = await setting(store, KEY_SETTING);
  if (!keyId) {
    const key = await custody.generate("audit-checkpoint", "ecdsa-p256");
    await putSetting(store, KEY_SETTING, key.id);
    keyId = key.id;
  }
  const key = await custody.get(keyId);
  return {
    keyId,
    publicKey: key.publicKey,
    publicKeyPem: key.publicKey.export({ type: "spki", format: "pem" }) as string,
  };
}

export async function signCheckpoint(
  custody: KeyCustody,
  signer: CheckpointSigner,
  head: { seq: number; hash: string },
  at = Date.now(),
): Promise<Checkpoint> {
  const message = checkpointMessage({ seq: head.seq, hash: head.hash, at });
  const signature = (await custody.signer(signer.keyId)).sign(message).toString("base64");
  return { seq: head.seq, hash: head.hash, at, signature };
}

/** Signs and stores a checkpoint of the current head, unless the head is already checkpointed. */
export async function createCheckpoint(
  store: Store,
  custody: KeyCustody,
  signer: CheckpointSigner,
): Promise<Checkpoint | undefined> {
  return store.transaction(async (tx) => {
    const head = await tx.get<{ seq: number; hash: string }>(`SELECT seq, hash FROM audit_head WHERE id = 1`);
    if (!head || Number(head.seq) === 0) return undefined;
    if (await tx.get(`SELECT seq FROM audit_checkpoints WHERE seq = ?`, [Number(head.seq)])) return undefined;
    const checkpoint = await signCheckpoint(custody, signer, { seq: Number(head.seq), hash: head.hash });
    await tx.run(`INSERT INTO audit_checkpoints (seq, hash, at, key_id, signature) VALUES (?, ?, ?, ?, ?)`, [
      checkpoint.seq,
      checkpoint.hash,
      checkpoint.at,
      signer.keyId,
      checkpoint.signature,
    ]);
    return checkpoint;
  });
}

export async function listCheckpoints(db: Queryable): Promise<Checkpoint[]> {
  const rows = await db.all<{ seq: number; hash: string; at: number; signature: string }>(
    `SELECT seq, hash, at, signature FROM audit_checkpoints ORDER BY seq`,
  );
  return rows.map((r) => ({ seq: Number(r.seq), hash: r.hash, at: Number(r.at), signature: r.signature }));
}

/** Where verification starts after retention pruned older entries (a signed checkpoint), if ever. */
export async function auditAnchor(db: Queryable): Promise<{ seq: number; hash: string } | null> {
  const value = await setting(db, ANCHOR_SETTING);
  return value ? (JSON.parse(value) as { seq: number; hash: string }) : null;
}

export async function setAuditAnchor(db: Queryable, anchor: { seq: number; hash: string }): Promise<void> {
  await putSetting(db, ANCHOR_SETTING, JSON.stringify(anchor));
}
