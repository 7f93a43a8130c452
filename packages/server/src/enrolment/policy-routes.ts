import { BulwarkError } from "@bulwark/sdk/errors";
import type { FastifyInstance } from "fastify";
import { actorOf } from "../audit/actor.ts";
import { appendAudit } from "../audit/audit-log.ts";
import { type DeviceGroup, groupByName, type ProvisioningPolicy } from "../fleet/groups.ts";
import type { CertificateAuthority } from "../pki/ca.ts";
import type { Store } from "../store/store.ts";
import { policySchema, setProvisioningPolicy, validatePolicy } from "./provisioning-policy.ts";
import { registerSerial } from "./registered-devices.ts";

const GROUP_PARAMS = {
  type: "object",
  required: ["name"],
  properties: { name: { type: "string", minLength: 1, maxLength: 63 } },
} as const;

async function groupOrThrow(store: Store, name: string): Promise<DeviceGroup> {
  const group = await groupByName(store, name);
  if (!group) throw new BulwarkError("BW_ERR_GROUP_NOT_FOUND", `no group named ${name}`);
  return group;
}

/** Provisioning policies of groups and their pre-registered serial numbers. */
export function policyRoutes(ctx: { store: Store; cas: () => CertificateAuthority[] }) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.put<{ Params: { name: string }; Body: ProvisioningPolicy }>(
      "/api/v1/groups/:name/provisioning-policy",
      {
        config: { auth: { permission: "groups:write" } },
        schema: { params: GROUP_PARAMS, body: policySchema },
      },
      async (request) => {
        const group = await groupOrThrow(ctx.store, request.params.name);
        validatePolicy(request.body, ctx.cas());
        await ctx.store.transaction(async (tx) => {
          await setProvisioningPolicy(tx, group, request.body);
          await appendAudit(tx, {
            actor: actorOf(request.principal),
            action: "group.provisioning-policy.update",
            target: { type: "group", id: group.id },
            outcome: "success",
            details: { group: group.name, policy: request.body },
          });
        });
        return { ...group, provisioningPolicy: request.body };
      },
    );

    app.post<{ Params: { name: string }; Body: { serialNumber: string; secret?: string } }>(
      "/api/v1/groups/:name/registered-devices",
      {
        config: { auth: { permission: "provisioning:manage" } },
        schema: {
          params: GROUP_PARAMS,
          body: {
            type: "object",
            additionalProperties: false,
            required: ["serialNumber"],
            properties: {
              serialNumber: { type: "string", minLength: 1, maxLength: 64 },
              secret: { type: "string", minLength: 16, maxLength: 256 },
            },
          },
        },
      },
      async (request, reply) => {
        const group = await groupOrThrow(ctx.store, request.params.name);
        const registered = await ctx.store.transaction(async (tx) => {
          const created = await registerSerial(tx, group, request.body);
          await appendAudit(tx, {
            actor: actorOf(request.principal),
            action: "device.register-serial",
            target: { type: "serial-number", id: created.serialNumber },
            outcome: "success",
            details: { group: group.name, secretSupplied: request.body.secret !== undefined },
          });
          return created;
        });
        reply.code(201);
        return { ...registered, group: group.name };
      },
    );
  };
}
