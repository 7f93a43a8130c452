import { BulwarkError } from "@bulwark/sdk/errors";
import { JOB_STATES } from "@bulwark/sdk/wire/jobs";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { actorOf } from "../audit/actor.ts";
import { appendAudit } from "../audit/audit-log.ts";
import type { Store } from "../store/store.ts";
import { releaseGuard } from "./anti-rollback.ts";
import { deltaNeedOf, deltaUnsupportedReason } from "./delta-capability.ts";
import { createDeployment, type DeploymentRequest } from "./deployment-create.ts";
import { jobEvents, jobsOf, stateCounts } from "./deployment-jobs.ts";
import { DEPLOYMENT_BODY } from "./deployment-schema.ts";
import {
  type Deployment,
  type DeploymentStatus,
  listDeployments,
  requireDeployment,
  setDeploymentStatus,
} from "./deployments.ts";
import { eligibleDevices } from "./eligibility.ts";
import type { UpdateJobs } from "./jobs-service.ts";
import { releaseUpdateOf } from "./release-updates.ts";
import { endDeployment } from "./rollout.ts";

const ID_PARAMS = {
  type: "object",
  properties: { id: { type: "string", format: "uuid" } },
  required: ["id"],
} as const;

/**
 * Live aggregate progress: jobs per state, devices reached now and those left out (hardware,
 * anti-rollback, an agent that cannot apply the required delta), or taking the full image for
 * want of the delta's format under `prefer` (`deltaUnsupported`, with the reason).
 */
async function summary(store: Store, deployment: Deployment) {
  const { hardware } = await releaseUpdateOf(store, deployment.releaseId);
  const guard = await releaseGuard(store, deployment.releaseId);
  // Deployments stored before deltas existed have no policy: the default applied to them.
  const need = await deltaNeedOf(store, deployment.releaseId, deployment.spec.delta ?? "prefer");
  const { devices, incompatible, belowFloor, deltaUnsupported } = await eligibleDevices(
    store,
    deployment,
    hardware,
    guard,
    need,
  );
  const counts = await stateCounts(store, deployment.id);
  return {
    ...deployment,
    eligible: devices.length,
    incompatible,
    belowFloor,
    deltaFormats: need.formats,
    deltaUnsupported,
    deltaUnsupportedReason: deltaUnsupportedReason(need, deltaUnsupported),
    jobs: Object.fromEntries(JOB_STATES.map((s) => [s, counts[s] ?? 0])),
  };
}

/** Operator actions: pause, resume, cancel — each a conditional status change, audited. */
const ACTIONS: Record<string, { from: DeploymentStatus[]; to: DeploymentStatus }> = {
  pause: { from: ["running"], to: "paused" },
  resume: { from: ["paused"], to: "running" },
  cancel: { from: ["running", "paused"], to: "canceled" },
};

export async function deploymentRoutes(
  app: FastifyInstance,
  deps: { store: Store; jobs: UpdateJobs },
): Promise<void> {
  const { store, jobs } = deps;

  app.post<{ Body: DeploymentRequest }>(
    "/api/v1/deployments",
    { config: { auth: { permission: "deployments:write" } }, schema: { body: DEPLOYMENT_BODY } },
    async (request, reply) => {
      const deployment = await store.transaction(async (tx) => {
        const created = await createDeployment(tx, request.body, request.principal?.user.id ?? null);
        await appendAudit(tx, {
          actor: actorOf(request.principal),
          action: "deployment.create",
          target: { type: "deployment", id: created.id },
          outcome: "success",
          details: {
            releaseId: created.releaseId,
            target: created.target,
            strategy: created.spec.strategy,
            delta: created.spec.delta,
          },
        });
        return created;
      });
      jobs.wake(deployment.id);
      reply.code(201);
      return deployment;
    },
  );

  app.get<{ Querystring: { releaseId?: string } }>(
    "/api/v1/deployments",
    {
      config: { auth: { permission: "deployments:read" } },
      schema: {
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: { releaseId: { type: "string", format: "uuid" } },
        },
      },
    },
    async (request) => {
      return { items: await listDeployments(store, request.query.releaseId) };
    },
  );

  app.get<{ Params: { id: string } }>(
    "/api/v1/deployments/:id",
    { config: { auth: { permission: "deployments:read" } }, schema: { params: ID_PARAMS } },
    async (request) => summary(store, await requireDeployment(store, request.params.id)),
  );

  app.get<{ Params: { id: string } }>(
    "/api/v1/deployments/:id/jobs",
    { config: { auth: { permission: "deployments:read" } }, schema: { params: ID_PARAMS } },
    async (request) => {
      await requireDeployment(store, request.params.id);
      return { items: await jobsOf(store, request.params.id) };
    },
  );

  app.get<{ Params: { id: string; jobId: string } }>(
    "/api/v1/deployments/:id/jobs/:jobId/events",
    {
      config: { auth: { permission: "deployments:read" } },
      schema: {
        params: {
          type: "object",
          properties: { id: { type: "string", format: "uuid" }, jobId: { type: "string", format: "uuid" } },
          required: ["id", "jobId"],
        },
      },
    },
    async (request) => {
      const owned = (await jobsOf(store, request.params.id)).some((j) => j.id === request.params.jobId);
      if (!owned) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such job in this deployment");
      return { items: await jobEvents(store, request.params.jobId) };
    },
  );

  for (const [action, move] of Object.entries(ACTIONS))
    app.post<{ Params: { id: string } }>(
      `/api/v1/deployments/:id/${action}`,
      { config: { auth: { permission: "deployments:write" } }, schema: { params: ID_PARAMS } },
      async (request) => operatorAction(deps, request, action, move),
    );
}

async function operatorAction(
  deps: { store: Store; jobs: UpdateJobs },
  request: FastifyRequest<{ Params: { id: string } }>,
  action: string,
  move: { from: DeploymentStatus[]; to: DeploymentStatus },
) {
  const deployment = await requireDeployment(deps.store, request.params.id);
  const reason = `${action} by an operator`;
  const actor = actorOf(request.principal);
  const audit = (details: Record<string, unknown>) => ({
    actor,
    action: `deployment.${action}`,
    target: { type: "deployment", id: deployment.id },
    outcome: "success" as const,
    details,
  });
  const moved =
    move.to === "canceled"
      ? (await endDeployment(
          deps.jobs.rollout,
          deployment,
          { ...move, reason },
          `operator:${actor.id ?? actor.type}`,
          (n) => audit({ canceledJobs: n }),
        )) !== undefined
      : await deps.store.transaction(async (tx) => {
          if (!(await setDeploymentStatus(tx, deployment.id, move.from, move.to, reason))) return false;
          await appendAudit(tx, audit({}));
          return true;
        });
  if (!moved)
    throw new BulwarkError("BW_ERR_CONFLICT", `the deployment is ${deployment.status}; it cannot ${action}`);
  if (move.to === "running") deps.jobs.wake(deployment.id);
  return summary(deps.store, await requireDeployment(deps.store, deployment.id));
}
