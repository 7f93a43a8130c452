import { BulwarkError } from "@bulwark/sdk/errors";
import type { FastifyInstance } from "fastify";
import { appendAudit } from "../audit/audit-log.ts";
import { auditedChange } from "../audit/audited-change.ts";
import { actorOf, type Principal } from "../http/auth.ts";
import type { Store } from "../store/store.ts";
import { createApiKey, listApiKeys, revokeApiKey } from "./api-keys.ts";
import { assertWithinCredential } from "./escalation.ts";
import { allPermissions, grantsAllow } from "./grants.ts";
import { assertNotLocked, countRefusal } from "./lockout.ts";
import { isRole, PERMISSIONS, type Permission, ROLE_PERMISSIONS, ROLES, type Role } from "./permissions.ts";
import { revokeAllSessions } from "./sessions.ts";
import { changePassword, checkPassword } from "./users.ts";

const DAY_MS = 24 * 3600 * 1000;
const DEFAULT_KEY_DAYS = 90;

/**
 * The permissions a new key asks for; each must be held by the caller now (no escalation), and so
 * must those of the role it is labelled with.
 */
function keyPermissions(principal: Principal, body: { role?: string; permissions?: string[] }): Permission[] {
  const requested = body.permissions
    ? (body.permissions as Permission[])
    : isRole(body.role)
      ? [...ROLE_PERMISSIONS[body.role]]
      : [...allPermissions(principal.grants)];
  const held = allPermissions(principal.grants);
  const labelled = isRole(body.role) ? ROLE_PERMISSIONS[body.role] : [];
  const missing = [...new Set([...requested, ...labelled])].filter((p) => !held.has(p));
  if (missing.length)
    throw new BulwarkError("BW_ERR_FORBIDDEN", `the caller does not hold ${missing.join(", ")}`);
  if (requested.length === 0)
    throw new BulwarkError("BW_ERR_VALIDATION", "a key needs at least one permission");
  return requested;
}

const keyRole = (principal: Principal, body: { role?: string }): Role =>
  isRole(body.role) ? body.role : (principal.user.role ?? principal.grants[0]?.role ?? "auditor");

export function accessRoutes(store: Store) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.post<{ Body: { currentPassword: string; newPassword: string } }>(
      "/api/v1/me/password",
      {
        config: { auth: { signedIn: true } },
        schema: {
          body: {
            type: "object",
            additionalProperties: false,
            required: ["currentPassword", "newPassword"],
            properties: {
              currentPassword: { type: "string", minLength: 1, maxLength: 1024 },
              newPassword: { type: "string", minLength: 1, maxLength: 1024 },
            },
          },
        },
      },
      async (request, reply) => {
        const principal = request.principal!;
        // OWASP: re-authenticate before a password change, whatever credential made the request.
        // A wrong password counts toward the lockout as at sign-in: a stolen session or key may
        // not guess the password here at the authenticated rate limit.
        await assertNotLocked(store, principal.user.username);
        const checked = await checkPassword(store, principal.user.username, request.body.currentPassword);
        if (!checked || checked.id !== principal.user.id) {
          await store.transaction(async (tx) => {
            await appendAudit(tx, {
              actor: actorOf(principal),
              action: "user.password-change",
              target: { type: "user", id: principal.user.id },
              outcome: "failure",
              details: { reason: "wrong-password" },
            });
            await countRefusal(tx, principal.user.username, {
              reason: "wrong-password",
              remoteAddress: request.ip,
            });
          });
          throw new BulwarkError("BW_ERR_FORBIDDEN", "the current password is wrong");
        }
        await auditedChange(
          store,
          request,
          async (tx) => {
            await changePassword(tx, principal.user, request.body.newPassword);
            // Other sessions may have been opened with the old password: end them.
            return revokeAllSessions(tx, principal.user.id, principal.sessionId);
          },
          (ended) => ({
            action: "user.password-change",
            target: { type: "user", id: principal.user.id },
            details: { sessionsEnded: ended },
          }),
        );
        request.log.info({ userId: principal.user.id }, "password changed");
        reply.code(204);
      },
    );

    app.post<{ Body: { name: string; role?: string; permissions?: string[]; expiresInDays?: number } }>(
      "/api/v1/api-keys",
      {
        config: { auth: { permission: "api-keys:manage" } },
        schema: {
          body: {
            type: "object",
            additionalProperties: false,
            required: ["name"],
            properties: {
              name: { type: "string", minLength: 1, maxLength: 100 },
              role: { type: "string", enum: [...ROLES] },
              permissions: {
                type: "array",
                items: { type: "string", enum: [...PERMISSIONS] },
                maxItems: PERMISSIONS.length,
                uniqueItems: true,
              },
              expiresInDays: { type: "integer", minimum: 1, maximum: 3650 },
            },
          },
        },
      },
      async (request, reply) => {
        const principal = request.principal!;
        const permissions = keyPermissions(principal, request.body);
        const role = keyRole(principal, request.body);
        const days = request.body.expiresInDays ?? DEFAULT_KEY_DAYS;
        const expiresAt = Date.now() + days * DAY_MS;
        assertWithinCredential(principal, expiresAt, "a key");
        const created = await auditedChange(
          store,
          request,
          (tx) =>
            createApiKey(tx, {
              ownerId: principal.user.id,
              name: request.body.name,
              role,
              permissions,
              expiresAt,
            }),
          (key) => ({
            action: "api-key.create",
            target: { type: "api-key", id: key.info.id },
            details: { permissions, name: request.body.name, expiresAt: key.info.expiresAt },
          }),
        );
        request.log.info({ apiKeyId: created.info.id }, "API key created");
        reply.code(201);
        return { ...created.info, key: created.key };
      },
    );

    app.get<{ Querystring: { all?: boolean } }>(
      "/api/v1/api-keys",
      {
        config: { auth: { permission: "api-keys:manage" } },
        schema: {
          querystring: {
            type: "object",
            additionalProperties: false,
            properties: { all: { type: "boolean" } },
          },
        },
      },
      async (request) => {
        const principal = request.principal!;
        if (request.query.all && !grantsAllow(principal.grants, "users:manage"))
          throw new BulwarkError("BW_ERR_FORBIDDEN", "listing every key needs users:manage");
        return { items: await listApiKeys(store, request.query.all ? null : principal.user.id) };
      },
    );

    app.delete<{ Params: { id: string } }>(
      "/api/v1/api-keys/:id",
      {
        config: { auth: { permission: "api-keys:manage" } },
        schema: {
          params: { type: "object", properties: { id: { type: "string", pattern: "^[a-z2-7]{12}$" } } },
        },
      },
      async (request, reply) => {
        const principal = request.principal!;
        // Administrators may revoke anyone's key; everyone else only their own.
        const owner = grantsAllow(principal.grants, "users:manage") ? null : principal.user.id;
        await auditedChange(store, request, (tx) => revokeApiKey(tx, owner, request.params.id), {
          action: "api-key.revoke",
          target: { type: "api-key", id: request.params.id },
        });
        request.log.info({ apiKeyId: request.params.id }, "API key revoked");
        reply.code(204);
      },
    );
  };
}
