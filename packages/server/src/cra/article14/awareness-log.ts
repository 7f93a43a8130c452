import { createHash, type KeyObject, verify } from "node:crypto";
import { canonicalJson } from "../../audit/canonical.ts";
import type { CustodySigner } from "../../pki/key-custody.ts";
import type { Queryable } from "../../store/store.ts";

/**
 * The tamper-evident awareness log of Article 14 events: what made the manufacturer aware, and
 * when (CRA Art. 14(2): the clocks run from awareness). Entries are hash-chained (each hash covers
 * the previous one) and each (seq, hash, time) is signed by a custody key, so a moved awareness
 * time shows as a broken link or a bad signature.
 */
export const GENESIS = "0".repeat(64);

export interface AwarenessEntry {
  eventId: string;
  at: number;
  /** What happened: opened, confirmed, dismissed, corrective-available, submitted, … */
  kind: string;
  /** What triggered it: a KEV listing, an intake report, an operator. */
  trigger: string;
  details: Record<string, unknown>;
}

export interface StoredAwareness extends AwarenessEntry {
  seq: number;
  prevHash: string;
  hash: string;
  keyId: string;
  signature: string;
}

const hashOf = (prev: string, entry: AwarenessEntry) =>
  createHash("sha256").update(prev).update(canonicalJson(entry)).digest("hex");
export const signedMessage = (seq: number, hash: string, at: number) =>
  Buffer.from(`bulwark-cra-awareness|${seq}|${hash}|${at}`);

/** Appends an entry in the caller's transaction. */
export async function appendAwareness(
  tx: Queryable,
  signer: CustodySigner,
  entry: AwarenessEntry,
): Promise<StoredAwareness> {
  const head = await tx.get<{ seq: number; hash: string }>(
    `SELECT seq, hash FROM cra_awareness_log ORDER BY seq DESC LIMIT 1`,
  );
  const seq = Number(head?.seq ?? 0) + 1;
  const prevHash = head?.hash ?? GENESIS;
  const hash = hashOf(prevHash, entry);
  const signature = signer.sign(signedMessage(seq, hash, entry.at)).toString("base64");
  // The seq primary key refuses a concurrent writer that read the same head.
  await tx.run(
    `INSERT INTO cra_awareness_log (seq, event_id, at, entry, prev_hash, hash, key_id, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    [seq, entry.eventId, entry.at, canonicalJson(entry), prevHash, hash, signer.keyId, signature],
  );
  return { ...entry, seq, prevHash, hash, keyId: signer.keyId, signature };
}

interface Row {
  seq: number;
  entry: string;
  prev_hash: string;
  hash: string;
  key_id: string;
  signature: string;
}

const toStored = (r: Row): StoredAwareness => ({
  ...(JSON.parse(r.entry) as AwarenessEntry),
  seq: Number(r.seq),
  prevHash: r.prev_hash,
  hash: r.hash,
  keyId: r.key_id,
  signature: r.signature,
});

export async function eventAwareness(db: Queryable, eventId: string): Promise<StoredAwareness[]> {
  return (
    await db.all<Row>(`SELECT * FROM cra_awareness_log WHERE event_id = ? ORDER BY seq`, [eventId])
  ).map(toStored);
}

/** Walks the whole log: links, hashes and signatures. Returns the first bad seq, or null. */
export async function verifyAwarenessLog(
  db: Queryable,
  publicKey: KeyObject,
): Promise<{ entries: number; brokenAt: number | null }> {
  let prev = GENESIS;
  let expected = 1;
  const rows = (await db.all<Row>(`SELECT * FROM cra_awareness_log ORDER BY seq`)).map(toStored);
  for (const e of rows) {
    const { seq, prevHash, hash, keyId: _k, signature, ...entry } = e;
    const ok =
      seq === expected &&
      prevHash === prev &&
      hashOf(prev, entry) === hash &&
      verify("sha256", signedMessage(seq, hash, entry.at), publicKey, Buffer.from(signature, "base64"));
    if (!ok) return { entries: rows.length, brokenAt: seq };
    prev = hash;
    expected++;
  }
  return { entries: rows.length, brokenAt: null };
}
