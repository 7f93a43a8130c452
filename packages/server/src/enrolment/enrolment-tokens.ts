import { createHash, randomBytes, randomUUID } from "node:crypto";
import { BulwarkError } from "@bulwark/sdk/errors";
import type { Queryable } from "../store/store.ts";

/** Token format: `bwet_` + 32 random bytes base64url; only its SHA-256 is stored. */
const TOKEN = /^bwet_[A-Za-z0-9_-]{43}$/;

export const hashToken = (token: string): string => createHash("sha256").update(token).digest("hex");

export interface EnrolmentToken {
  id: string;
  groupId: string;
  maxUses: number;
  uses: number;
  expiresAt: string;
  createdAt: string;
}

export interface CreatedToken extends EnrolmentToken {
  token: string;
}

export const MAX_TOKEN_TTL_SECONDS = 30 * 24 * 3600;

export async function createEnrolmentToken(
  db: Queryable,
  options: { groupId: string; ttlSeconds: number; maxUses: number; createdBy: string },
): Promise<CreatedToken> {
  const token = `bwet_${randomBytes(32).toString("base64url")}`;
  const now = Date.now();
  const row = { id: randomUUID(), expiresAt: now + options.ttlSeconds * 1000 };
  await db.run(
    `INSERT INTO enrolment_tokens (id, token_hash, group_id, max_uses, uses, expires_at, created_by, created_at)
     VALUES (?, ?, ?, ?, 0, ?, ?, ?)`,
    [row.id, hashToken(token), options.groupId, options.maxUses, row.expiresAt, options.createdBy, now],
  );
  return {
    id: row.id,
    token,
    groupId: options.groupId,
    maxUses: options.maxUses,
    uses: 0,
    expiresAt: new Date(row.expiresAt).toISOString(),
    createdAt: new Date(now).toISOString(),
  };
}

/** Finds a usable token without consuming it (used to pick the group before the CSR is checked). */
export async function findUsableToken(
  db: Queryable,
  token: string,
): Promise<{ id: string; groupId: string }> {
  if (!TOKEN.test(token)) throw new BulwarkError("BW_ERR_ENROLMENT_TOKEN_INVALID");
  // The lookup is by SHA-256 of a 256-bit secret: an index probe, not a comparison an attacker can time.
  const row = await db.get<{
    id: string;
    group_id: string;
    uses: number;
    max_uses: number;
    expires_at: number;
  }>(`SELECT id, group_id, uses, max_uses, expires_at FROM enrolment_tokens WHERE token_hash = ?`, [
    hashToken(token),
  ]);
  if (!row || Number(row.uses) >= Number(row.max_uses) || Number(row.expires_at) <= Date.now())
    throw new BulwarkError("BW_ERR_ENROLMENT_TOKEN_INVALID");
  return { id: row.id, groupId: row.group_id };
}

/** Atomically takes one use of a token; fails if another request used it up meanwhile or it expired. */
export async function consumeToken(tx: Queryable, id: string): Promise<void> {
  const { changes } = await tx.run(
    `UPDATE enrolment_tokens SET uses = uses + 1 WHERE id = ? AND uses < max_uses AND expires_at > ?`,
    [id, Date.now()],
  );
  if (changes !== 1) throw new BulwarkError("BW_ERR_ENROLMENT_TOKEN_INVALID");
}
