import { BulwarkError } from "@bulwark/sdk/errors";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { appendAudit } from "../audit/audit-log.ts";
import { auditedChange, type ChangeRecord } from "../audit/audited-change.ts";
import { actorOf, type Principal } from "../http/auth.ts";
import { RATE_LIMITS } from "../http/rate-limits.ts";
import type { Store } from "../store/store.ts";
import { assertCovers } from "./escalation.ts";
import { grantsOf } from "./grants.ts";
import { assertNotLocked, countRefusal } from "./lockout.ts";
import {
  beginTotpEnrolment,
  confirmTotpEnrolment,
  disableTotp,
  mfaRequiredRoles,
  replaceRecoveryCodes,
  setMfaRequiredRoles,
  verifySecondFactor,
} from "./mfa.ts";
import { ROLES, type Role } from "./permissions.ts";
import type { SecretBox } from "./secret-box.ts";
import { userById } from "./users.ts";

const FACTOR_BODY = {
  type: "object",
  additionalProperties: false,
  properties: {
    code: { type: "string", pattern: "^[0-9]{6}$" },
    recoveryCode: { type: "string", minLength: 10, maxLength: 20 },
  },
} as const;

/** Account security settings belong to the person: a signed-in session or certificate, not an API key. */
function person(request: FastifyRequest): Principal {
  const principal = request.principal!;
  if (principal.kind === "api-key")
    throw new BulwarkError(
      "BW_ERR_FORBIDDEN",
      "second-factor settings need a signed-in session, not an API key",
    );
  return principal;
}

/** The audit record of a change to a user's second factor. */
const onUser = (action: string, userId: string): ChangeRecord => ({
  action,
  target: { type: "user", id: userId },
});

/**
 * A current second factor before an account change. Wrong codes count toward the account's lockout
 * as at sign-in (NIST SP 800-63B §5.2.2): a stolen session may not guess codes without limit.
 */
async function requireFactor(
  store: Store,
  box: SecretBox,
  request: FastifyRequest,
  principal: Principal,
  body: { code?: string; recoveryCode?: string },
) {
  await assertNotLocked(store, principal.user.username);
  const factor = body.code
    ? { code: body.code }
    : body.recoveryCode
      ? { recoveryCode: body.recoveryCode }
      : undefined;
  if (!factor || !(await verifySecondFactor(store, box, principal.user.id, factor))) {
    await store.transaction(async (tx) => {
      await appendAudit(tx, {
        actor: actorOf(principal),
        action: "user.totp-check",
        target: { type: "user", id: principal.user.id },
        outcome: "failure",
      });
      await countRefusal(tx, principal.user.username, {
        reason: "wrong-second-factor",
        remoteAddress: request.ip,
      });
    });
    throw new BulwarkError(
      "BW_ERR_MFA_INVALID",
      "a current TOTP code or an unused recovery code is required",
    );
  }
}

export function mfaRoutes(store: Store, box: SecretBox) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    // RFC 6238 enrolment, step 1: a new seed and its otpauth URI (not active until confirmed).
    app.post(
      "/api/v1/me/totp",
      { config: { auth: { signedIn: true }, rateLimit: RATE_LIMITS.secondFactor } },
      async (request, reply) => {
        const principal = person(request);
        const started = await auditedChange(
          store,
          request,
          (tx) => beginTotpEnrolment(tx, box, principal.user),
          onUser("user.totp-enrol-start", principal.user.id),
        );
        reply.code(201);
        return started;
      },
    );

    // Step 2: the first code proves the authenticator holds the seed; recovery codes are shown once.
    app.post<{ Body: { code: string } }>(
      "/api/v1/me/totp/confirm",
      {
        config: { auth: { signedIn: true }, rateLimit: RATE_LIMITS.secondFactor },
        schema: {
          body: {
            type: "object",
            additionalProperties: false,
            required: ["code"],
            properties: { code: { type: "string", pattern: "^[0-9]{6}$" } },
          },
        },
      },
      async (request) => {
        const principal = person(request);
        const recoveryCodes = await auditedChange(
          store,
          request,
          (tx) => confirmTotpEnrolment(tx, box, principal.user.id, request.body.code),
          onUser("user.totp-enable", principal.user.id),
        );
        return { recoveryCodes };
      },
    );

    app.post<{ Body: { code?: string; recoveryCode?: string } }>(
      "/api/v1/me/recovery-codes",
      {
        config: { auth: { signedIn: true }, rateLimit: RATE_LIMITS.secondFactor },
        schema: { body: FACTOR_BODY },
      },
      async (request) => {
        const principal = person(request);
        await requireFactor(store, box, request, principal, request.body);
        const recoveryCodes = await auditedChange(
          store,
          request,
          (tx) => replaceRecoveryCodes(tx, box, principal.user.id),
          onUser("user.recovery-codes-replace", principal.user.id),
        );
        return { recoveryCodes };
      },
    );

    app.delete<{ Body: { code?: string; recoveryCode?: string } }>(
      "/api/v1/me/totp",
      {
        config: { auth: { signedIn: true }, rateLimit: RATE_LIMITS.secondFactor },
        schema: { body: FACTOR_BODY },
      },
      async (request, reply) => {
        const principal = person(request);
        await requireFactor(store, box, request, principal, request.body);
        await auditedChange(
          store,
          request,
          (tx) => disableTotp(tx, principal.user.id),
          onUser("user.totp-disable", principal.user.id),
        );
        reply.code(204);
      },
    );

    // An administrator resets a user's lost authenticator; the user must enrol again if the policy requires.
    app.delete<{ Params: { id: string } }>(
      "/api/v1/users/:id/totp",
      {
        config: { auth: { permission: "users:manage" } },
        schema: { params: { type: "object", properties: { id: { type: "string", format: "uuid" } } } },
      },
      async (request, reply) => {
        await auditedChange(
          store,
          request,
          async (tx) => {
            const target = await userById(tx, request.params.id);
            if (!target) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such user");
            // Removing a second factor weakens the account: not one that holds more than the caller.
            assertCovers(
              request.principal!.grants,
              await grantsOf(tx, target),
              "resetting this user's second factor",
            );
            await disableTotp(tx, request.params.id);
          },
          onUser("user.totp-reset", request.params.id),
        );
        reply.code(204);
      },
    );

    app.get("/api/v1/policies/mfa", { config: { auth: { permission: "users:read" } } }, async () => ({
      requiredRoles: await mfaRequiredRoles(store),
    }));

    app.put<{ Body: { requiredRoles: Role[] } }>(
      "/api/v1/policies/mfa",
      {
        config: { auth: { permission: "auth-settings:manage" } },
        schema: {
          body: {
            type: "object",
            additionalProperties: false,
            required: ["requiredRoles"],
            properties: {
              requiredRoles: {
                type: "array",
                items: { type: "string", enum: [...ROLES] },
                uniqueItems: true,
              },
            },
          },
        },
      },
      async (request) => {
        const after = request.body.requiredRoles;
        await auditedChange(
          store,
          request,
          async (tx) => {
            const before = await mfaRequiredRoles(tx);
            await setMfaRequiredRoles(tx, after);
            return before;
          },
          (before) => ({
            action: "policy.mfa-change",
            target: { type: "policy", id: "mfa" },
            details: { before, after },
          }),
        );
        return { requiredRoles: await mfaRequiredRoles(store) };
      },
    );
  };
}
