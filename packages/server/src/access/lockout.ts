import { BulwarkError } from "@bulwark/sdk/errors";
import { appendAudit } from "../audit/audit-log.ts";
import { notify } from "../audit/notifications.ts";
import type { Queryable } from "../store/store.ts";

/**
 * Per-account lockout (OWASP Authentication Cheat Sheet, "account lockout"; NIST SP 800-63B
 * §5.2.2 throttling): after MAX_FAILURES consecutive failed passwords or second factors, the
 * account refuses sign-in for LOCK_MS. Unknown usernames are counted the same way, so the
 * answer never tells which accounts exist. Every change is one conditional statement, so
 * parallel guesses cannot lose a count or clear a lock another request set.
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

/**
 * Counts one failure; returns true when this failure locked the account. The count is one atomic
 * upsert (a failure while a lock is live adds nothing: the lock already answers it); the lock is
 * one conditional update that exactly one of several parallel failures can win.
 */
export async function recordFailure(db: Queryable, username: string, now = Date.now()): Promise<boolean> {
  const account = accountKey(username);
  await db.run(
    `INSERT INTO sign_in_failures (account, failures, locked_until, updated_at) VALUES (?, 1, NULL, ?)
     ON CONFLICT (account) DO UPDATE SET updated_at = excluded.updated_at,
       failures = CASE WHEN sign_in_failures.locked_until > ? THEN sign_in_failures.failures
                       ELSE sign_in_failures.failures + 1 END`,
    [account, now, now],
  );
  const { changes } = await db.run(
    `UPDATE sign_in_failures SET locked_until = ?, failures = 0, updated_at = ?
     WHERE account = ? AND failures >= ? AND (locked_until IS NULL OR locked_until <= ?)`,
    [now + LOCK_MS, now, account, MAX_FAILURES, now],
  );
  return changes === 1;
}

/**
 * Counts a refused password or second factor toward the account's lockout; the failure that locks
 * it is recorded (`auth.lockout`) and notified, in the caller's transaction. Returns whether it did.
 */
export async function countRefusal(
  tx: Queryable,
  username: string,
  details: { reason: string; remoteAddress: string },
): Promise<boolean> {
  const locked = await recordFailure(tx, username);
  if (!locked) return false;
  const account = username.slice(0, 64);
  await appendAudit(tx, {
    actor: { type: "system" },
    action: "auth.lockout",
    target: { type: "account", id: account },
    outcome: "success",
    details: { failures: MAX_FAILURES, remoteAddress: details.remoteAddress },
  });
  await notify(tx, {
    kind: "account-locked",
    severity: "warning",
    message: `account ${account} locked after ${MAX_FAILURES} failed sign-ins`,
    details: { username: account, ...details },
  });
  return true;
}

/** After a successful sign-in: forgets the failures, but never a lock that is still live. */
export async function clearFailures(db: Queryable, username: string, now = Date.now()): Promise<void> {
  await db.run(
    `DELETE FROM sign_in_failures WHERE account = ? AND (locked_until IS NULL OR locked_until <= ?)`,
    [accountKey(username), now],
  );
}
