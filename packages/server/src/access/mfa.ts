import { randomBytes, randomUUID } from "node:crypto";
import { BulwarkError } from "@bulwark/sdk/errors";
import type { Queryable } from "../store/store.ts";
import type { Grant } from "./grants.ts";
import { isRole, type Role } from "./permissions.ts";
import type { SecretBox } from "./secret-box.ts";
import { base32Decode, base32Encode, generateTotpSecret, otpauthUri, verifyTotp } from "./totp.ts";

/**
 * The second factor: TOTP (RFC 6238) with single-use recovery codes. Seeds are sealed with the
 * master key; recovery codes are stored as keyed MACs. A policy names the roles that must use it.
 */
const POLICY_KEY = "access.mfa-required-roles";
export const DEFAULT_MFA_ROLES: Role[] = ["admin"];
const RECOVERY_CODES = 10;

const seedContext = (userId: string) => `totp-seed|${userId}`;
const codeContext = (userId: string) => `recovery-code|${userId}`;
const normalise = (code: string) => code.replace(/[\s-]/g, "").toLowerCase();

export async function mfaRequiredRoles(db: Queryable): Promise<Role[]> {
  const row = await db.get<{ value: string }>(`SELECT value FROM settings WHERE key = ?`, [POLICY_KEY]);
  if (!row) return DEFAULT_MFA_ROLES;
  return (JSON.parse(row.value) as unknown[]).filter(isRole);
}

export async function setMfaRequiredRoles(db: Queryable, roles: Role[]): Promise<void> {
  const value = JSON.stringify([...new Set(roles)]);
  const { changes } = await db.run(`UPDATE settings SET value = ? WHERE key = ?`, [value, POLICY_KEY]);
  if (changes === 0) await db.run(`INSERT INTO settings (key, value) VALUES (?, ?)`, [POLICY_KEY, value]);
}

/** Whether any role the user holds (globally or for a product) is under the 2FA policy. */
export async function mfaRequired(db: Queryable, grants: readonly Grant[]): Promise<boolean> {
  const roles = await mfaRequiredRoles(db);
  return grants.some((g) => roles.includes(g.role));
}

export async function totpEnabled(db: Queryable, userId: string): Promise<boolean> {
  const row = await db.get<{ enabled: number }>(`SELECT enabled FROM user_totp WHERE user_id = ?`, [userId]);
  return Number(row?.enabled ?? 0) === 1;
}

/** Starts (or restarts) enrolment: a new seed, not yet active, and its otpauth URI. */
export async function beginTotpEnrolment(
  db: Queryable,
  box: SecretBox,
  user: { id: string; username: string },
): Promise<{ secret: string; otpauthUri: string }> {
  if (await totpEnabled(db, user.id))
    throw new BulwarkError("BW_ERR_CONFLICT", "a second factor is already active; disable it first");
  const seed = generateTotpSecret();
  const sealed = box.seal(base32Encode(seed), seedContext(user.id));
  await db.run(`DELETE FROM user_totp WHERE user_id = ?`, [user.id]);
  await db.run(
    `INSERT INTO user_totp (user_id, secret_sealed, enabled, last_step, created_at) VALUES (?, ?, 0, 0, ?)`,
    [user.id, sealed, Date.now()],
  );
  return { secret: base32Encode(seed), otpauthUri: otpauthUri(seed, user.username) };
}

async function seedOf(db: Queryable, box: SecretBox, userId: string) {
  const row = await db.get<{ secret_sealed: string; enabled: number; last_step: number }>(
    `SELECT secret_sealed, enabled, last_step FROM user_totp WHERE user_id = ?`,
    [userId],
  );
  if (!row) return undefined;
  return {
    sealed: row.secret_sealed,
    seed: base32Decode(box.open(row.secret_sealed, seedContext(userId))),
    enabled: Number(row.enabled) === 1,
    lastStep: Number(row.last_step),
  };
}

/**
 * Accepts a TOTP code once: the matched step must be newer than the last one used (replay
 * refused), taken by one conditional update on the very seed the code was checked against (an
 * enrolment restarted meanwhile replaced it) and, unless enrolling, on an active one.
 */
async function useTotpCode(
  db: Queryable,
  box: SecretBox,
  userId: string,
  code: string,
  now: number,
  enrolling = false,
) {
  const state = await seedOf(db, box, userId);
  if (!state || (!enrolling && !state.enabled)) return undefined;
  const step = verifyTotp(state.seed, code, now, state.lastStep);
  if (step === undefined) return undefined;
  const { changes } = await db.run(
    `UPDATE user_totp SET last_step = ? WHERE user_id = ? AND secret_sealed = ? AND last_step < ? AND enabled = ?`,
    [step, userId, state.sealed, step, state.enabled ? 1 : 0],
  );
  return changes === 1 ? state.sealed : undefined;
}

/** Confirms enrolment with a first code; activates TOTP and returns fresh recovery codes (shown once). */
export async function confirmTotpEnrolment(
  db: Queryable,
  box: SecretBox,
  userId: string,
  code: string,
  now = Date.now(),
): Promise<string[]> {
  const sealed = await useTotpCode(db, box, userId, code, now, true);
  const { changes } = sealed
    ? await db.run(`UPDATE user_totp SET enabled = 1 WHERE user_id = ? AND secret_sealed = ?`, [
        userId,
        sealed,
      ])
    : { changes: 0 };
  if (changes !== 1)
    throw new BulwarkError("BW_ERR_MFA_INVALID", "the code does not match the new authenticator");
  return replaceRecoveryCodes(db, box, userId);
}

export async function replaceRecoveryCodes(db: Queryable, box: SecretBox, userId: string): Promise<string[]> {
  await db.run(`DELETE FROM recovery_codes WHERE user_id = ?`, [userId]);
  const codes: string[] = [];
  for (let i = 0; i < RECOVERY_CODES; i++) {
    const raw = base32Encode(randomBytes(7)).slice(0, 10).toLowerCase();
    codes.push(`${raw.slice(0, 5)}-${raw.slice(5)}`);
    await db.run(`INSERT INTO recovery_codes (id, user_id, code_mac, created_at) VALUES (?, ?, ?, ?)`, [
      randomUUID(),
      userId,
      box.mac(normalise(raw), codeContext(userId)),
      Date.now(),
    ]);
  }
  return codes;
}

export type SecondFactor = { code: string } | { recoveryCode: string };

/** Checks an active second factor; a recovery code is burnt on use. */
export async function verifySecondFactor(
  db: Queryable,
  box: SecretBox,
  userId: string,
  factor: SecondFactor,
  now = Date.now(),
): Promise<boolean> {
  if ("code" in factor) return (await useTotpCode(db, box, userId, factor.code, now)) !== undefined;
  const mac = box.mac(normalise(factor.recoveryCode), codeContext(userId));
  const { changes } = await db.run(
    `UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_mac = ? AND used_at IS NULL`,
    [now, userId, mac],
  );
  return changes === 1;
}

export async function disableTotp(db: Queryable, userId: string): Promise<void> {
  await db.run(`DELETE FROM user_totp WHERE user_id = ?`, [userId]);
  await db.run(`DELETE FROM recovery_codes WHERE user_id = ?`, [userId]);
}
