import type { FloorNotice, JobNotify } from "@bulwark/sdk/wire/jobs";
import type { DeviceChannel } from "../fleet/device-channel.ts";
import type { Queryable } from "../store/store.ts";
import { installedCounters } from "./anti-rollback.ts";
import { artifactsOf } from "./artifacts.ts";
import type { Job } from "./deployment-jobs.ts";
import type { Deployment } from "./deployments.ts";
import { targetPath } from "./publish.ts";
import { updateRelease } from "./release-updates.ts";

/** The `jobs/notify` message for a job (SDK wire/jobs.ts); what to install is resolved by TUF on the device. */
export async function notifyDocument(db: Queryable, deployment: Deployment, job: Job): Promise<JobNotify> {
  return (await notifyDocuments(db, deployment))(job);
}

/**
 * The `jobs/notify` messages of a deployment's jobs: the release and its artifacts are read once,
 * so announcing thousands of jobs costs no query per job.
 */
export async function notifyDocuments(
  db: Queryable,
  deployment: Deployment,
): Promise<(job: Pick<Job, "id" | "state">) => JobNotify> {
  const release = await updateRelease(db, deployment.releaseId);
  const artifacts = await artifactsOf(db, release.id);
  const mandatory = release.classification === "security";
  return (job) => ({
    type: "update",
    jobId: job.id,
    deploymentId: deployment.id,
    productId: deployment.productId,
    state: job.state,
    targets: artifacts.map((a) => ({
      path: targetPath(release.component, release.version, a.name),
      artifact: a.kind,
    })),
    component: release.component,
    version: release.version,
    kind: release.classification,
    // CRA Annex I Part I (2)(c): security updates install automatically, deferral bounded; features are optional.
    mandatory,
    maxDeferralSeconds: mandatory ? deployment.spec.maxDeferralSeconds : 0,
    window: deployment.spec.window,
    network: deployment.spec.network,
    rollback: deployment.spec.rollback,
    // Deployments stored before deltas existed have no policy: the default applies.
    delta: deployment.spec.delta ?? "prefer",
    issuedAt: Date.now(),
  });
}

export async function sendNotify(
  channel: Pick<DeviceChannel, "publish">,
  db: Queryable,
  deployment: Deployment,
  job: Job,
) {
  await channel.publish(job.deviceId, "jobsNotify", await notifyDocument(db, deployment, job));
}

/**
 * The device's anti-rollback floor as the server knows it (`FloorNotice`, from its succeeded jobs),
 * on `jobs/notify`; nothing for a device that installed nothing through the server.
 */
export async function sendFloorNotice(
  channel: Pick<DeviceChannel, "publish">,
  db: Queryable,
  deviceId: string,
) {
  // At most 16 components, as the device takes them (`isFloorNotice`).
  const counters = Object.fromEntries(Object.entries(await installedCounters(db, deviceId)).slice(0, 16));
  if (Object.keys(counters).length === 0) return;
  const notice: FloorNotice = { type: "anti-rollback-floor", counters, issuedAt: Date.now() };
  await channel.publish(deviceId, "jobsNotify", notice);
}
