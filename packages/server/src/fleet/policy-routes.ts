import { BulwarkError } from "@bulwark/sdk/errors";
import { POLICY_SETTINGS_SCHEMA, type PolicySettings } from "@bulwark/sdk/wire/policy";
import type { FastifyInstance } from "fastify";
import { auditedChange } from "../audit/audited-change.ts";
import type { Store } from "../store/store.ts";
import type { ConfigDelivery } from "./config-delivery.ts";
import {
  devicesUsingPolicy,
  listPolicies,
  POLICY_NAME,
  policyVersions,
  publishPolicyVersion,
} from "./policies.ts";

const NAME_PARAMS = {
  type: "object",
  properties: { name: { type: "string", pattern: POLICY_NAME.source } },
  required: ["name"],
} as const;

/** Device policies: list, read the versions of one, publish a new version (pushed to its devices). */
export function policyRoutes(store: Store, delivery: ConfigDelivery) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get("/api/v1/policies", { config: { auth: { permission: "policies:read" } } }, async () => ({
      items: await listPolicies(store),
    }));

    app.get<{ Params: { name: string } }>(
      "/api/v1/policies/:name",
      { config: { auth: { permission: "policies:read" } }, schema: { params: NAME_PARAMS } },
      async (request) => {
        const versions = await policyVersions(store, request.params.name);
        if (versions.length === 0) throw new BulwarkError("BW_ERR_POLICY_NOT_FOUND");
        return { name: request.params.name, latest: versions[0], versions };
      },
    );

    app.post<{ Params: { name: string }; Body: { settings: PolicySettings } }>(
      "/api/v1/policies/:name/versions",
      {
        config: { auth: { permission: "policies:write" } },
        schema: {
          params: NAME_PARAMS,
          body: {
            type: "object",
            additionalProperties: false,
            required: ["settings"],
            properties: { settings: POLICY_SETTINGS_SCHEMA },
          },
        },
      },
      async (request, reply) => {
        const policy = await auditedChange(
          store,
          request,
          (tx, actor) =>
            publishPolicyVersion(tx, request.params.name, request.body.settings, actor.id ?? null),
          (published) => ({
            action: "policy.publish",
            target: { type: "policy", id: `${published.name}@${published.version}` },
            details: { settings: published.settings },
          }),
        );
        const pushed = await delivery.pushAll(await devicesUsingPolicy(store, policy.name));
        reply.code(201);
        return { ...policy, pushed };
      },
    );
  };
}
