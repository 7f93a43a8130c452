import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { BulwarkError } from "@bulwark/sdk/errors";
import type { Queryable } from "../store/store.ts";

/**
 * Browser and CLI sessions (OWASP Session Management Cheat Sheet): a 256-bit random token in a
 * `__Host-` cookie (RFC 6265bis §4.1.3.2: Secure, Path=/, no Domain), only its SHA-256 stored;
 * a fresh token on every sign-in (no fixation); idle and absolute timeouts; revocable.
 */
export const SESSION_COOKIE = "__Host-bulwark-session";
export const SESSION_IDLE_MS = 30 * 60 * 1000;
export const SESSION_ABSOLUTE_MS = 12 * 3600 * 1000;
// last_seen_at is written at most this often, so reads do not turn into writes.
const TOUCH_EVERY_MS = 60 * 1000;

export type SignInMethod = "password" | "oidc";

export interface SessionInfo {
  id: string;
  userId: string;
  via: SignInMethod;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
  remoteAddress: string | null;
  userAgent: string | null;
}

interface SessionRow {
  id: string;
  token_hash: string;
  user_id: string;
  via: SignInMethod;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  revoked_at: number | null;
  remote_address: string | null;
  user_agent: string | null;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const iso = (ms: number) => new Date(Number(ms)).toISOString();

const toInfo = (row: SessionRow): SessionInfo => ({
  id: row.id,
  userId: row.user_id,
  via: row.via,
  createdAt: iso(row.created_at),
  lastSeenAt: iso(row.last_seen_at),
  expiresAt: iso(Math.min(Number(row.expires_at), Number(row.last_seen_at) + SESSION_IDLE_MS)),
  remoteAddress: row.remote_address,
  userAgent: row.user_agent,
});

export async function createSession(
  db: Queryable,
  options: { userId: string; via: SignInMethod; remoteAddress?: string; userAgent?: string; now?: number },
): Promise<{ token: string; session: SessionInfo }> {
  const now = options.now ?? Date.now();
  const token = randomBytes(32).toString("base64url");
  const row: SessionRow = {
    id: randomUUID(),
    token_hash: sha256(token),
    user_id: options.userId,
    via: options.via,
    created_at: now,
    last_seen_at: now,
    expires_at: now + SESSION_ABSOLUTE_MS,
    revoked_at: null,
    remote_address: options.remoteAddress ?? null,
    user_agent: options.userAgent?.slice(0, 200) ?? null,
  };
  await db.run(
    `INSERT INTO sessions (id, token_hash, user_id, via, created_at, last_seen_at, expires_at, remote_address, user_agent)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      row.id,
      row.token_hash,
      row.user_id,
      row.via,
      row.created_at,
      row.last_seen_at,
      row.expires_at,
      row.remote_address,
      row.user_agent,
    ],
  );
  return { token, session: toInfo(row) };
}

/** The live session a token names, refreshed; undefined when unknown, revoked, idle or too old. */
export async function authenticateSession(
  db: Queryable,
  token: string,
  now = Date.now(),
): Promise<SessionInfo | undefined> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return undefined;
  const row = await db.get<SessionRow>(`SELECT * FROM sessions WHERE token_hash = ?`, [sha256(token)]);
  if (!row || row.revoked_at !== null) return undefined;
  if (now >= Number(row.expires_at) || now >= Number(row.last_seen_at) + SESSION_IDLE_MS) return undefined;
  if (now - Number(row.last_seen_at) >= TOUCH_EVERY_MS) {
    await db.run(`UPDATE sessions SET last_seen_at = ? WHERE id = ?`, [now, row.id]);
    row.last_seen_at = now;
  }
  return toInfo(row);
}

/** The synchronizer CSRF token of a session, derived from its secret token (never stored). */
export const csrfTokenFor = (sessionToken: string): string =>
  createHmac("sha256", sessionToken).update("bulwark-csrf-v1").digest("base64url");

export function csrfTokenMatches(sessionToken: string, presented: string | undefined): boolean {
  if (!presented) return false;
  const expected = Buffer.from(csrfTokenFor(sessionToken));
  const given = Buffer.from(presented);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export async function listSessions(db: Queryable, userId: string, now = Date.now()): Promise<SessionInfo[]> {
  const rows = await db.all<SessionRow>(
    `SELECT * FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? AND last_seen_at > ? ORDER BY created_at`,
    [userId, now, now - SESSION_IDLE_MS],
  );
  return rows.map(toInfo);
}

export async function revokeSession(db: Queryable, userId: string, id: string): Promise<void> {
  const { changes } = await db.run(
    `UPDATE sessions SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL`,
    [Date.now(), id, userId],
  );
  if (changes !== 1) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such active session");
}

/** Revokes every session of a user (except one, e.g. the caller's own); returns how many. */
export async function revokeAllSessions(db: Queryable, userId: string, exceptId?: string): Promise<number> {
  const { changes } = await db.run(
    `UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND id <> ?`,
    [Date.now(), userId, exceptId ?? ""],
  );
  return changes;
}
