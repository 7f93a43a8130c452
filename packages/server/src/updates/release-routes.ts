import type { FastifyInstance } from "fastify";
import { actorOf } from "../audit/actor.ts";
import { appendAudit } from "../audit/audit-log.ts";
import type { Store } from "../store/store.ts";
import { artifactsOf } from "./artifacts.ts";
import { deltaJobsOf } from "./delta-job-queries.ts";
import { deltasOf } from "./delta-queries.ts";
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

  // Issue #15 item 10: the release's deltas, those made at publish (ready) and those computed in
  // the background (pending, computing with progress, ready, skipped or failed with the reason).
  app.get<{ Params: { id: string } }>(
    "/api/v1/releases/:id/deltas",
    { config: { auth: { permission: "products:read" } }, schema: { params: RELEASE_PARAMS } },
    async (request) => {
      const release = await updateRelease(deps.store, request.params.id);
      // Jobs first: a job read as ready has its delta row committed with it (delta-jobs.ts), so
      // the deltas read next include it. Read the other way round (two reads, no snapshot on
      // PostgreSQL), a job that ended between them showed ready with no delta.
      const jobs = await deltaJobsOf(deps.store, release.id);
      const made = await deltasOf(deps.store, release.id);
      const byId = new Map(made.map((d) => [d.id, d]));
      const delta = (id: string | null) => {
        const d = id === null ? undefined : byId.get(id);
        return d ? { name: d.name, length: d.length, sha256: d.sha256 } : null;
      };
      const baseVersions = new Map(jobs.map((j) => [j.baseReleaseId, j.baseVersion]));
      // Made at publish: no job for its artifact and base (one a job made after the jobs were read
      // is that job's, shown as the job read).
      const inline = made.filter(
        (d) => !jobs.some((j) => j.artifactName === d.artifactName && j.baseSha256 === d.baseSha256),
      );
      for (const d of inline)
        if (!baseVersions.has(d.baseReleaseId))
          baseVersions.set(d.baseReleaseId, (await updateRelease(deps.store, d.baseReleaseId)).version);
      return {
        items: [
          ...inline.map((d) => ({
            artifact: d.artifactName,
            baseVersion: baseVersions.get(d.baseReleaseId)!,
            baseSha256: d.baseSha256,
            format: d.format,
            state: "ready" as const,
            reason: null,
            background: false,
            progress: null,
            attempts: null,
            jobId: null,
            delta: delta(d.id),
          })),
          ...jobs.map((j) => ({
            artifact: j.artifactName,
            baseVersion: j.baseVersion,
            baseSha256: j.baseSha256,
            format: j.format,
            state: j.state,
            reason: j.reason,
            background: true,
            progress: j.progress,
            attempts: j.attempts,
            jobId: j.id,
            delta: delta(j.deltaId),
            updatedAt: j.updatedAt,
          })),
        ],
      };
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
