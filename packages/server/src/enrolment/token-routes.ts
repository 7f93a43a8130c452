import { BulwarkError } from "@bulwark/sdk/errors";
import type { FastifyInstance } from "fastify";
import { actorOf } from "../audit/actor.ts";
import { appendAudit } from "../audit/audit-log.ts";
import { groupByName } from "../fleet/groups.ts";
import type { Store } from "../store/store.ts";
import { createEnrolmentToken, MAX_TOKEN_TTL_SECONDS } from "./enrolment-tokens.ts";

interface CreateTokenBody {
  group: string;
  ttlSeconds?: number;
  maxUses?: number;
}

export function tokenRoutes(store: Store) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.post<{ Body: CreateTokenBody }>(
      "/api/v1/enrolment-tokens",
      {
        config: { auth: { permission: "enrolment-tokens:create" } },
        schema: {
          body: {
            type: "object",
            additionalProperties: false,
            required: ["group"],
            properties: {
              group: { type: "string", minLength: 1, maxLength: 63 },
              ttlSeconds: { type: "integer", minimum: 60, maximum: MAX_TOKEN_TTL_SECONDS },
              maxUses: { type: "integer", minimum: 1, maximum: 100000 },
            },
          },
        },
      },
      async (request, reply) => {
        const group = await groupByName(store, request.body.group);
        if (!group) throw new BulwarkError("BW_ERR_GROUP_NOT_FOUND", `no group named ${request.body.group}`);
        const token = await store.transaction(async (tx) => {
          const created = await createEnrolmentToken(tx, {
            groupId: group.id,
            ttlSeconds: request.body.ttlSeconds ?? 3600,
            maxUses: request.body.maxUses ?? 1,
            createdBy: request.principal!.user.id,
          });
          await appendAudit(tx, {
            actor: actorOf(request.principal),
            action: "enrolment-token.create",
            target: { type: "enrolment-token", id: created.id },
            outcome: "success",
            details: { group: group.name, maxUses: created.maxUses, expiresAt: created.expiresAt },
          });
          return created;
        });
        request.log.info(
          { tokenId: token.id, group: group.name, maxUses: token.maxUses },
          "enrolment token created",
        );
        reply.code(201);
        return { ...token, group: group.name };
      },
    );
  };
}
