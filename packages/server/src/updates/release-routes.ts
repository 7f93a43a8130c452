import type { FastifyInstance } from "fastify";
import { actorOf } from "../audit/actor.ts";
import { appendAudit } from "../audit/audit-log.ts";
import type { Store } from "../store/store.ts";
import { artifactsOf } from "./artifacts.ts";
import { type Advisory, type ReleaseUpdate, setReleaseUpdate, updateRelease } from "./release-updates.ts";

const RELEASE_PARAMS = {
  type: "object",
  properties: { id: { type: "string", format: "uuid" } },
  required: ["id"],
} as const;

// CRA Annex I Part II (2): an advisory says what a security update fixes and what to do.
const ADVISORY = {
  type: "object",
  additionalProperties: false,
  required: ["summary", "severity", "action"],
  properties: {
    summary: { type: "string", minLength: 1, maxLength: 4000 },
    severity: { type: "string", enum: ["none", "low", "medium", "high", "critical"] },
    cves: {
      type: "array",
      maxItems: 200,
      uniqueItems: true,
      items: { type: "string", pattern: "^CVE-[0-9]{4}-[0-9]{4,19}$" },
    },
    action: { type: "string", minLength: 1, maxLength: 2000 },
  },
} as const;

type UpdateBody = { component?: string; advisory?: Advisory | null; hardware?: string[] };

/** The update fields of a release: component, advisory, hardware compatibility (issue #15 item 2). */
export async function releaseUpdateRoutes(app: FastifyInstance, deps: { store: Store }): Promise<void> {
  app.get<{ Params: { id: string } }>(
    "/api/v1/releases/:id/update",
    { config: { auth: { permission: "products:read" } }, schema: { params: RELEASE_PARAMS } },
    async (request) => {
      const release = await updateRelease(deps.store, request.params.id);
      return { ...release, artifacts: await artifactsOf(deps.store, release.id) };
    },
  );

  app.put<{ Params: { id: string }; Body: UpdateBody }>(
    "/api/v1/releases/:id/update",
    {
      config: { auth: { permission: "artifacts:write" } },
      schema: {
        params: RELEASE_PARAMS,
        body: {
          type: "object",
          additionalProperties: false,
          properties: {
            // Delegated TUF role names (TUF spec §4.5) are component names.
            component: { type: "string", pattern: "^[a-z0-9][a-z0-9._-]{0,63}$" },
            advisory: { anyOf: [ADVISORY, { type: "null" }] },
            hardware: {
              type: "array",
              maxItems: 256,
              uniqueItems: true,
              items: { type: "string", pattern: "^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$" },
            },
          },
        },
      },
    },
    async (request) => {
      const { component, advisory, hardware } = request.body;
      const change: Partial<ReleaseUpdate> = {
        ...(component === undefined ? {} : { component }),
        ...(advisory === undefined
          ? {}
          : { advisory: advisory && { ...advisory, cves: advisory.cves ?? [] } }),
        ...(hardware === undefined ? {} : { hardware }),
      };
      return deps.store.transaction(async (tx) => {
        const release = await updateRelease(tx, request.params.id);
        const updated = await setReleaseUpdate(tx, release.id, change);
        await appendAudit(tx, {
          actor: actorOf(request.principal),
          action: "release.update-fields",
          target: { type: "release", id: release.id },
          outcome: "success",
          details: { fields: Object.keys(change) },
        });
        return { ...release, ...updated };
      });
    },
  );
}
