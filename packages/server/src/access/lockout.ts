import { BulwarkError } from "@bulwark/sdk/errors";
import type { Queryable } from "../store/store.ts";

/**
 * Per-account lockout (OWASP Authentication Cheat Sheet, "account lockout"; NIST SP 800-63B
 * §5.2.2 throttling): after MAX_FAILURES consecutive failed passwords or second factors, the
 * account refuses sign-in for LOCK_MS. Unknown usernames are counted the same way, so the
 * answer never tells which accounts exist.
 */
export const MAX_FAILURES = 5;
export const LOCK_MS = 15 * 60 * 1000;

const accountKey = (username: string) => username.trim().toLowerCase();

export async function assertNotLocked(db: Queryable, username: string, now = Date.now()): Promise<void> {
  const row = await db.get<{ locked_until: number | null }>(
    `SELECT locked_until FROM sign_in_failures WHERE account = ?`,
    [accountKey(username)],
  );
  if (row?.locked_until != null && Number(row.locked_until) > now)
    throw new BulwarkError("BW_ERR_ACCOUNT_LOCKED", "too many failed sign-ins; try again later");
}

/** Counts one failure; returns true when this failure locked the account. */
export async function recordFailure(db: Queryable, username: string, now = Date.now()): Promise<boolean> {
  const account = accountKey(username);
  const row = await db.get<{ failures: number }>(`SELECT failures FROM sign_in_failures WHERE account = ?`, [
    account,
  ]);
  const failures = Number(row?.failures ?? 0) + 1;
  const lock = failures >= MAX_FAILURES;
  if (row)
    await db.run(
      `UPDATE sign_in_failures SET failures = ?, locked_until = ?, updated_at = ? WHERE account = ?`,
      [lock ? 0 : failures, lock ? now + LOCK_MS : null, now, account],
    );
  else
    await db.run(
      `INSERT INTO sign_in_failures (account, failures, locked_until, updated_at) VALUES (?, ?, ?, ?)`,
      [account, lock ? 0 : failures, lock ? now + LOCK_MS : null, now],
    );
  return lock;
}

export async function clearFailures(db: Queryable, username: string): Promise<void> {
  await db.run(`DELETE FROM sign_in_failures WHERE account = ?`, [accountKey(username)]);
}
