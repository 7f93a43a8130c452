import { BulwarkError } from "@bulwark/sdk/errors";
import type { FastifyInstance } from "fastify";
import { appendAudit } from "../audit/audit-log.ts";
import { actorOf } from "../http/auth.ts";
import type { Store } from "../store/store.ts";
import { createApiKey, listApiKeys, revokeApiKey } from "./api-keys.ts";
import { isRole, ROLE_PERMISSIONS, ROLES, type Role } from "./permissions.ts";
import { changePassword } from "./users.ts";

/** A key may carry the owner's role or one whose permissions are a subset of it (no escalation). */
function mayDelegate(owner: Role, requested: Role): boolean {
  return ROLE_PERMISSIONS[requested].every((p) => ROLE_PERMISSIONS[owner].includes(p));
}

export function accessRoutes(store: Store) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.post<{ Body: { newPassword: string } }>(
      "/api/v1/me/password",
      {
        config: { auth: { password: true } },
        schema: {
          body: {
            type: "object",
            additionalProperties: false,
            required: ["newPassword"],
            properties: { newPassword: { type: "string", minLength: 1, maxLength: 1024 } },
          },
        },
      },
      async (request, reply) => {
        await store.transaction(async (tx) => {
          await changePassword(tx, request.principal!.user, request.body.newPassword);
          await appendAudit(tx, {
            actor: actorOf(request.principal),
            action: "user.password-change",
            target: { type: "user", id: request.principal!.user.id },
            outcome: "success",
          });
        });
        request.log.info({ userId: request.principal!.user.id }, "password changed");
        reply.code(204);
      },
    );

    app.post<{ Body: { name: string; role?: string; expiresInDays?: number } }>(
      "/api/v1/api-keys",
      {
        config: { auth: { permission: "api-keys:manage", allowPassword: true } },
        schema: {
          body: {
            type: "object",
            additionalProperties: false,
            required: ["name"],
            properties: {
              name: { type: "string", minLength: 1, maxLength: 100 },
              role: { type: "string", enum: [...ROLES] },
              expiresInDays: { type: "integer", minimum: 1, maximum: 3650 },
            },
          },
        },
      },
      async (request, reply) => {
        const principal = request.principal!;
        const role = request.body.role ?? principal.role;
        if (!isRole(role) || !mayDelegate(principal.role, role))
          throw new BulwarkError("BW_ERR_FORBIDDEN", `a ${principal.role} cannot create a ${role} key`);
        const days = request.body.expiresInDays;
        const created = await store.transaction(async (tx) => {
          const key = await createApiKey(tx, {
            ownerId: principal.user.id,
            name: request.body.name,
            role,
            expiresAt: days ? Date.now() + days * 24 * 3600 * 1000 : null,
          });
          await appendAudit(tx, {
            actor: actorOf(principal),
            action: "api-key.create",
            target: { type: "api-key", id: key.info.id },
            outcome: "success",
            details: { role, name: request.body.name },
          });
          return key;
        });
        request.log.info({ apiKeyId: created.info.id, role }, "API key created");
        reply.code(201);
        return { ...created.info, key: created.key };
      },
    );

    app.get("/api/v1/api-keys", { config: { auth: { permission: "api-keys:manage" } } }, async (request) => ({
      items: await listApiKeys(store, request.principal!.user.id),
    }));

    app.delete<{ Params: { id: string } }>(
      "/api/v1/api-keys/:id",
      {
        config: { auth: { permission: "api-keys:manage" } },
        schema: {
          params: { type: "object", properties: { id: { type: "string", pattern: "^[a-z2-7]{12}$" } } },
        },
      },
      async (request, reply) => {
        await store.transaction(async (tx) => {
          await revokeApiKey(tx, request.principal!.user.id, request.params.id);
          await appendAudit(tx, {
            actor: actorOf(request.principal),
            action: "api-key.revoke",
            target: { type: "api-key", id: request.params.id },
            outcome: "success",
          });
        });
        request.log.info({ apiKeyId: request.params.id }, "API key revoked");
        reply.code(204);
      },
    );
  };
}
