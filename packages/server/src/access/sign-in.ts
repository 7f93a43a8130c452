import { BulwarkError } from "@bulwark/sdk/errors";
import { appendAudit } from "../audit/audit-log.ts";
import type { Store } from "../store/store.ts";
import { assertNotLocked, clearFailures, countRefusal } from "./lockout.ts";
import { type SecondFactor, totpEnabled, verifySecondFactor } from "./mfa.ts";
import type { SecretBox } from "./secret-box.ts";
import { createSession, type SessionInfo } from "./sessions.ts";
import { checkPassword, type User } from "./users.ts";

export interface SignInRequest {
  username: string;
  password: string;
  code?: string;
  recoveryCode?: string;
}

export interface SignInMeta {
  remoteAddress: string;
  userAgent?: string;
}

export interface SignedIn {
  token: string;
  session: SessionInfo;
  user: User;
}

/**
 * Password sign-in as ordered steps: lockout → password → lockout again → second factor → new
 * session (lockout checked once more in its transaction). Every refusal is counted toward the
 * account lockout and recorded (CRA Annex I Part I (2)(d)). The lock is checked again after the
 * password because parallel guesses may lock the account while it is being verified.
 */
export async function signInWithPassword(
  store: Store,
  box: SecretBox,
  input: SignInRequest,
  meta: SignInMeta,
): Promise<SignedIn> {
  await assertNotLocked(store, input.username);
  const user = await checkPassword(store, input.username, input.password);
  if (!user)
    return refuse(store, input.username, meta, "wrong-password", "the username or password is wrong");
  await assertNotLocked(store, input.username);
  if (await totpEnabled(store, user.id)) {
    const factor = secondFactorOf(input);
    if (!factor) throw new BulwarkError("BW_ERR_MFA_REQUIRED", "send a TOTP code or a recovery code");
    if (!(await verifySecondFactor(store, box, user.id, factor)))
      return refuse(
        store,
        input.username,
        meta,
        "wrong-second-factor",
        "the second factor is wrong or already used",
      );
  }
  return store.transaction(async (tx) => {
    // Cleared first (never a live lock), then checked: a lock set meanwhile refuses the session.
    await clearFailures(tx, input.username);
    await assertNotLocked(tx, input.username);
    const created = await createSession(tx, {
      userId: user.id,
      via: "password",
      remoteAddress: meta.remoteAddress,
      userAgent: meta.userAgent,
    });
    await appendAudit(tx, {
      actor: { type: "user", id: user.id },
      action: "auth.sign-in",
      target: { type: "session", id: created.session.id },
      outcome: "success",
      details: { via: "password", remoteAddress: meta.remoteAddress },
    });
    return { ...created, user };
  });
}

function secondFactorOf(input: SignInRequest): SecondFactor | undefined {
  if (input.code) return { code: input.code };
  if (input.recoveryCode) return { recoveryCode: input.recoveryCode };
  return undefined;
}

async function refuse(
  store: Store,
  username: string,
  meta: SignInMeta,
  reason: "wrong-password" | "wrong-second-factor",
  message: string,
): Promise<never> {
  await store.transaction(async (tx) => {
    // The attempted name is kept (truncated) so that a targeted account can be recognised.
    const details = { username: username.slice(0, 64), reason, remoteAddress: meta.remoteAddress };
    await appendAudit(tx, {
      actor: { type: "anonymous" },
      action: "auth.sign-in",
      outcome: "failure",
      details,
    });
    await countRefusal(tx, username, { reason, remoteAddress: meta.remoteAddress });
  });
  throw new BulwarkError(
    reason === "wrong-password" ? "BW_ERR_UNAUTHENTICATED" : "BW_ERR_MFA_INVALID",
    message,
  );
}
