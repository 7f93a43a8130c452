import { isJobStatusReport, type JobState, type JobStatusReport } from "@bulwark/sdk/wire/jobs";
import type { Queryable } from "../store/store.ts";
import { acknowledgeCancel, jobById, transitionJob } from "./deployment-jobs.ts";
import { type Deployment, deploymentById } from "./deployments.ts";

/** How far along a job is; a device report may not move a job backwards (bar deferral). */
const RANK: Record<JobState, number> = {
  queued: 0,
  notified: 1,
  deferred: 1,
  downloading: 2,
  verifying: 3,
  installing: 4,
  succeeded: 5,
  failed: 5,
  rolled_back: 5,
  rejected: 5,
  canceled: 5,
  timed_out: 5,
};

/** Whether a device may move its job from `from` to `to` (terminal states never change). */
export function deviceMayMove(from: JobState, to: JobState): boolean {
  if (RANK[from] === 5) return false;
  // Deferral: before installing starts (also after a download, waiting for the window).
  if (to === "deferred") return from !== "installing";
  if (from === "deferred") return to !== "queued" && to !== "notified";
  return RANK[to] >= RANK[from];
}

/** Concurrent transitions a report may lose before it gives up (more than a job has states). */
const MAX_RACES = Object.keys(RANK).length;

export type ReportOutcome = "recorded" | "ignored";

/**
 * A device's report on `jobs/{jobId}/status`: applied only to that device's own job, only as a
 * forward move (a replayed or out-of-order report cannot undo a later state, nor reopen an ended
 * job), with a deferral of a mandatory update capped at the deployment's limit.
 *
 * Reports of one job can be applied at the same time: Aedes handles the packets of one socket read
 * concurrently, and a device that reconnects sends its queued reports (`installing`, `succeeded`)
 * together. Each transition is a conditional UPDATE on the state read; in PostgreSQL (READ
 * COMMITTED) the report that lost the race finds the row moved by the other and changes nothing.
 * Taking that as "ignored" lost a forward move for good (a job left `installing` though its device
 * had reported `succeeded`). So a lost race is retried against the state now committed: it applies
 * if it still moves the job forward. Each retry means the job moved forward, so there are at most
 * as many as there are states.
 */
export async function applyJobReport(
  db: Queryable,
  deviceId: string,
  jobId: string,
  payload: unknown,
  /** Deployments already read in this transaction (a batch of reports reads each once). */
  deployments: Map<string, Deployment | undefined> = new Map(),
): Promise<{ outcome: ReportOutcome; deploymentId?: string }> {
  if (!isJobStatusReport(payload)) return { outcome: "ignored" };
  // The device acknowledges the server's cancel; it never moves a job itself.
  if (payload.state === "canceled") {
    await acknowledgeCancel(db, deviceId, jobId);
    return { outcome: "ignored" };
  }
  for (let attempt = 0; attempt <= MAX_RACES; attempt++) {
    const job = await jobById(db, jobId);
    if (!job || job.deviceId !== deviceId || !deviceMayMove(job.state, payload.state))
      return { outcome: "ignored" };
    if (!deployments.has(job.deploymentId))
      deployments.set(job.deploymentId, await deploymentById(db, job.deploymentId));
    const deployment = deployments.get(job.deploymentId);
    if (!deployment) return { outcome: "ignored" };
    const timeout = deployment.spec.jobTimeoutSeconds * 1000;
    const now = Date.now();
    const deferUntil =
      payload.state === "deferred" ? deferral(payload, deployment.spec.maxDeferralSeconds, now) : null;
    const moved = await transitionJob(db, job, payload.state, {
      actor: "device",
      reason: payload.reason ?? null,
      deferUntil,
      progress: payload.progress,
      deadlineAt: Math.max(now, deferUntil ?? 0) + timeout,
    });
    if (moved) return { outcome: "recorded", deploymentId: job.deploymentId };
    // The row was no longer in the state read: a concurrent transition committed first; read it again.
  }
  return { outcome: "ignored" };
}

/** Deferral until the device's date, at most the policy's limit from now (CRA Annex I Part I (2)(c)). */
function deferral(report: JobStatusReport, maxSeconds: number, now: number): number {
  const asked = report.deferUntil ?? now;
  return maxSeconds > 0 ? Math.min(asked, now + maxSeconds * 1000) : asked;
}
