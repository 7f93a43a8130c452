import { BulwarkError } from "@bulwark/sdk/errors";
import type { FastifyInstance } from "fastify";
import { actorOf } from "../audit/actor.ts";
import { appendAudit } from "../audit/audit-log.ts";
import { groupByName } from "../fleet/groups.ts";
import type { Store } from "../store/store.ts";
import { listClaimCas, registerClaimCa } from "./claim.ts";

const NAME = {
  type: "string",
  minLength: 1,
  maxLength: 128,
  pattern: "^[A-Za-z0-9][A-Za-z0-9 ._()-]*$",
} as const;
const PEM = { type: "string", minLength: 1, maxLength: 64 * 1024 } as const;

/** Manufacturing (claim) CAs: the CAs whose certificates a device may enrol with (claim enrolment). */
export function claimCaRoutes(store: Store) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get("/api/v1/claim-cas", { config: { auth: { permission: "pki:read" } } }, async () => ({
      items: await listClaimCas(store),
    }));

    app.post<{ Body: { name: string; group: string; certificatePem: string } }>(
      "/api/v1/claim-cas",
      {
        config: { auth: { permission: "cas:manage" } },
        schema: {
          body: {
            type: "object",
            additionalProperties: false,
            required: ["name", "group", "certificatePem"],
            properties: {
              name: NAME,
              group: { type: "string", minLength: 1, maxLength: 63 },
              certificatePem: PEM,
            },
          },
        },
      },
      async (request, reply) => {
        const group = await groupByName(store, request.body.group);
        if (!group) throw new BulwarkError("BW_ERR_GROUP_NOT_FOUND", `no group named ${request.body.group}`);
        const claimCa = await store.transaction(async (tx) => {
          const registered = await registerClaimCa(tx, group, request.body);
          await appendAudit(tx, {
            actor: actorOf(request.principal),
            action: "claim-ca.register",
            target: { type: "claim-ca", id: registered.id },
            outcome: "success",
            details: { name: registered.name, group: group.name, fingerprint: registered.fingerprint },
          });
          return registered;
        });
        reply.code(201);
        return claimCa;
      },
    );
  };
}
