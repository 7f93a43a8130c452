import { type JobState, TERMINAL_JOB_STATES } from "@bulwark/sdk/wire/jobs";
import type { Logger } from "pino";
import { type AuditEntry, appendAudit } from "../audit/audit-log.ts";
import type { DeviceChannel } from "../fleet/device-channel.ts";
import type { Queryable, Store } from "../store/store.ts";
import { releaseGuard } from "./anti-rollback.ts";
import { deltaNeedOf } from "./delta-capability.ts";
import { deltaWaitReason } from "./delta-wait.ts";
import {
  createJobs,
  expectCancelAcks,
  type Job,
  type JobActor,
  type JobCounts,
  jobCountsOf,
  jobDevicesOf,
  jobsInState,
  jobsOf,
  overdueJobsOf,
  transitionJob,
  transitionJobs,
} from "./deployment-jobs.ts";
import { admitted, fullyAdmitted } from "./deployment-spec.ts";
import {
  type Deployment,
  type DeploymentStatus,
  deploymentById,
  setDeploymentStatus,
  setWave,
} from "./deployments.ts";
import { eligibleDevicesUnordered, inRolloutOrder } from "./eligibility.ts";
import { notifyDocuments } from "./job-notify.ts";
import { releaseUpdateOf } from "./release-updates.ts";

export interface RolloutDeps {
  store: Store;
  channel: Pick<DeviceChannel, "publish">;
  log: Logger;
  /**
   * Eligibility reads kept between passes (the jobs runtime's; absent: every pass reads afresh).
   * A pass reads every device of the product (`eligibility.ts`): at 10,000 devices ~60 ms, and a
   * running deployment gets a pass every second (the tick) or more (job ends), so reading each
   * time took ~9 % of the server's busy time during a rollout's downloads, and a group deployment,
   * which stays running, kept taking it (issue #15 item 9). A pass whose kept read is recent counts
   * with it; admitting and completing read afresh first (`freshEligibility`).
   */
  eligibility?: Map<string, KeptEligibility>;
}

/** An eligibility read of a deployment, and until when a pass may count with it. */
export interface KeptEligibility {
  devices: string[];
  until: number;
}

/**
 * How long a read is kept: at least ELIGIBILITY_KEEP_MS (devices that join a group later are
 * admitted within it), and long enough that re-reading takes at most 1/ELIGIBILITY_READ_SHARE of
 * the time (at 100,000 devices a read takes ~0.6 s: kept a minute).
 */
export const ELIGIBILITY_KEEP_MS = 5_000;
const ELIGIBILITY_READ_SHARE = 50;

/**
 * What one pass of the engine sees; steps read it and say whether the pass goes on. The jobs are
 * counted by state (an SQL aggregate): a step reads the rows it acts on only (the overdue, the
 * queued, the devices with a job when some are still to admit), so a pass over a fleet that has
 * all its jobs costs a few aggregates, not a read of every job (issue #15 item 9: at 10,000
 * devices the full read stalled the event loop for each pass while jobs ended).
 */
interface Pass {
  deps: RolloutDeps;
  deployment: Deployment;
  /**
   * Eligible devices, unordered (`inRolloutOrder` ranks them when devices are admitted): read by
   * this pass, or kept from a recent one (`fresh` false) where only counting with them.
   */
  eligible: string[];
  fresh: boolean;
  /** Reads the eligible devices now (once a pass), into `eligible`. */
  readEligible: () => Promise<void>;
  counts: JobCounts;
  now: number;
}

/** The eligible devices as the store has them now: what admission and completion decide on. */
async function freshEligibility(pass: Pass): Promise<string[]> {
  if (!pass.fresh) await pass.readEligible();
  return pass.eligible;
}

const countOf = (counts: JobCounts, states: readonly JobState[]) =>
  states.reduce((sum, state) => sum + (counts[state] ?? 0), 0);
const totalOf = (counts: JobCounts) => Object.values(counts).reduce((sum, n) => sum + n, 0);
const endedOf = (counts: JobCounts) => countOf(counts, TERMINAL_JOB_STATES);
const openOf = (counts: JobCounts) => totalOf(counts) - endedOf(counts);

type Step = (pass: Pass) => Promise<"continue" | "stop">;

const timeoutMs = (d: Deployment) => d.spec.jobTimeoutSeconds * 1000;

/**
 * Step 4: jobs for the devices the strategy admits by now (devices joining later included), each
 * batch announced in the transaction that creates it (`announceInBatches`): the first devices
 * hear of their job while later batches are still being written, and nothing waits for the
 * creation's own commit (issue #15 item 9). After the abort check, so a pass that aborts admits
 * no one; after the wave gate, so a wave that opens is admitted in the same pass.
 */
async function admitDevices(pass: Pass): Promise<"continue"> {
  const { deployment: d } = pass;
  const room = () =>
    admitted(d.spec.strategy, pass.eligible.length, d.wave, pass.now - d.startedAt) - totalOf(pass.counts);
  if (room() <= 0) return "continue";
  const have = await jobDevicesOf(pass.deps.store, d.id);
  if (!pass.eligible.some((id) => !have.has(id))) return "continue";
  // Someone to admit: decided on the devices as they are now (one disabled meanwhile gets no job).
  const eligible = await freshEligibility(pass);
  const without = eligible.filter((id) => !have.has(id));
  if (without.length === 0 || room() <= 0) return "continue";
  const fresh = inRolloutOrder(d.id, without).slice(0, room());
  await announceInBatches(pass, fresh, async (tx, deviceIds) =>
    createJobs(tx, d.id, deviceIds, d.wave, timeoutMs(d)),
  );
  pass.counts = await jobCountsOf(pass.deps.store, d.id);
  return "continue";
}

/** Step 1: a job without progress past its deadline is timed out. */
async function timeOutJobs(pass: Pass): Promise<"continue"> {
  if (openOf(pass.counts) === 0) return "continue";
  const overdue = await overdueJobsOf(pass.deps.store, pass.deployment.id, pass.now);
  for (const job of overdue)
    await pass.deps.store.transaction((tx) =>
      transitionJob(tx, job, "timed_out", {
        actor: "system",
        reason: `no progress within ${pass.deployment.spec.jobTimeoutSeconds} s`,
        deadlineAt: job.deadlineAt,
      }),
    );
  if (overdue.length > 0) pass.counts = await jobCountsOf(pass.deps.store, pass.deployment.id);
  return "continue";
}

/**
 * Ends a deployment early (abort or an operator's cancel): the status change, the cancellation of
 * every job not yet installing and the audit entry commit together (an installing device finishes
 * and reports). The devices told of their job are sent the cancel before the commit, as
 * announcements are (`notifyQueued`): committed first, a process dying in between left a device
 * connected to another process going on with a canceled job. A device that missed it (offline, or
 * its notice not sent) gets it again each time it subscribes, until it acknowledges it
 * (`cancel_notice`, `jobs-service.ts`). Returns undefined when the status had moved.
 */
export async function endDeployment(
  deps: RolloutDeps,
  deployment: Deployment,
  move: { from: DeploymentStatus[]; to: DeploymentStatus; reason: string },
  actor: JobActor,
  audit: (canceled: number) => AuditEntry,
): Promise<number | undefined> {
  const stoppable: JobState[] = ["queued", "notified", "deferred", "downloading", "verifying"];
  return deps.store.transaction(async (tx) => {
    if (!(await setDeploymentStatus(tx, deployment.id, move.from, move.to, move.reason))) return undefined;
    // Multi-row statements: canceling 10,000 jobs one UPDATE (and event) each took ~0.5 s of the
    // event loop inside the transaction.
    const stopped = (await jobsOf(tx, deployment.id)).filter((job) => stoppable.includes(job.state));
    const moved = await transitionJobs(tx, stopped, "canceled", {
      actor,
      reason: `deployment ${move.to}`,
      deadlineAt: Date.now(),
    });
    const told: Job[] = moved
      .filter((job) => job.state !== "queued")
      .map((job) => ({ ...job, state: "canceled" }));
    await expectCancelAcks(
      tx,
      told.map((job) => job.id),
    );
    const count = (await jobCountsOf(tx, deployment.id)).canceled ?? 0;
    await appendAudit(tx, audit(count));
    if (told.length > 0) {
      // One document for all; the notices go out together, before the commit.
      const documentOf = await notifyDocuments(tx, deployment);
      await Promise.all(
        told.map((job) =>
          deps.channel
            .publish(job.deviceId, "jobsNotify", documentOf(job))
            .catch((error: unknown) =>
              deps.log.warn(
                { err: error, jobId: job.id },
                "cancel notice not sent; the device gets it when it subscribes again",
              ),
            ),
        ),
      );
    }
    return count;
  });
}

/** Step 2: automatic abort when the failure rate among finished jobs passes the threshold. */
async function abortOnFailures(pass: Pass): Promise<"continue" | "stop"> {
  const rule = pass.deployment.spec.abort;
  const finished = endedOf(pass.counts) - (pass.counts.canceled ?? 0);
  const failed = countOf(pass.counts, rule.count);
  if (finished < rule.minCount || failed / finished <= rule.failureRate) return "continue";
  const reason = `failure rate ${failed}/${finished} passed ${rule.failureRate} (${rule.count.join(", ")})`;
  await endDeployment(
    pass.deps,
    pass.deployment,
    { from: ["running"], to: "aborted", reason },
    "system",
    (canceled) => ({
      actor: { type: "system" },
      action: "deployment.abort",
      target: { type: "deployment", id: pass.deployment.id },
      outcome: "success",
      details: { reason, canceled },
    }),
  );
  return "stop";
}

/** Step 3: a finished wave passes its success gate to open the next (or pauses for an outside check). */
async function gateWave(pass: Pass): Promise<"continue" | "stop"> {
  const { deployment: d } = pass;
  const strategy = d.spec.strategy;
  if (strategy.kind !== "waves" || d.wave >= strategy.waves.length - 1) return "continue";
  const allowed = admitted(strategy, pass.eligible.length, d.wave, pass.now - d.startedAt);
  if (totalOf(pass.counts) < allowed || openOf(pass.counts) > 0) return "continue";
  const finished = totalOf(pass.counts) - (pass.counts.canceled ?? 0);
  const ratio = finished === 0 ? 1 : (pass.counts.succeeded ?? 0) / finished;
  if (ratio < strategy.successGate) {
    const reason = `wave ${d.wave + 1} succeeded on ${(ratio * 100).toFixed(1)} %, below its gate of ${strategy.successGate * 100} %`;
    await setDeploymentStatus(pass.deps.store, d.id, ["running"], "aborted", reason);
    return "stop";
  }
  if (strategy.pauseAfterWave) {
    await setDeploymentStatus(
      pass.deps.store,
      d.id,
      ["running"],
      "paused",
      `wave ${d.wave + 1} done: resume after your check`,
      d.wave + 1,
    );
    return "stop";
  }
  await setWave(pass.deps.store, d.id, d.wave + 1);
  pass.deployment = { ...d, wave: d.wave + 1 };
  return "continue";
}

/**
 * Step 3½: under delta policy `require`, no device is admitted while a delta of the release is
 * still computed in the background (`delta-wait.ts`): its job would fail for want of the delta.
 * The deployment's summary shows why (`waitingFor`); the next pass after the delta is ready (or
 * skipped, or failed) admits as usual. Before admission, so nothing is made or announced meanwhile.
 */
async function waitForDeltas(pass: Pass): Promise<"continue" | "stop"> {
  return (await deltaWaitReason(pass.deps.store, pass.deployment)) === null ? "continue" : "stop";
}

/** Step 5: a device-list deployment ends when every device's job has ended; group targets stay open. */
async function completeIfDone(pass: Pass): Promise<"continue" | "stop"> {
  const { deployment: d } = pass;
  if (!("devices" in d.target)) return "continue";
  if (!fullyAdmitted(d.spec.strategy, pass.eligible.length, d.wave, pass.now - d.startedAt))
    return "continue";
  if (openOf(pass.counts) > 0) return "continue";
  const have = await jobDevicesOf(pass.deps.store, d.id);
  if ((await freshEligibility(pass)).some((id) => !have.has(id))) return "continue";
  await setDeploymentStatus(pass.deps.store, d.id, ["running"], "completed", null);
  return "stop";
}

/**
 * Jobs made and announced per transaction: one commit (one fsync) for this many, not one each.
 * The transaction stays open while the broker takes the batch's notices (about 0.4 ms each with
 * downloads under way), and batches cannot overlap there: at 10,000 devices 500 a batch took
 * 4.7 s to the last notice, 2,000 a batch 2.9 s (issue #15 item 9, `bench -- rollout`).
 */
export const NOTIFY_BATCH = 2000;
/** Notify batches committed or fsynced at once (PostgreSQL: connections of the pool they take). */
const NOTIFY_IN_FLIGHT = 4;

/**
 * Announces jobs on the devices' `jobs/notify` topic, a batch at a time: `load` gives the batch's
 * jobs (made now, or read queued), they move to `notified` in the same transaction, and their
 * announcements are handed to the broker (across processes: Redis has taken them) before that
 * transaction commits, the rows locked meanwhile: a process that dies in between leaves the jobs
 * `queued` or not made, and the next pass, on any process, makes or announces them again.
 * (Committed first, a job was left `notified` without its device ever hearing of it when that
 * device's session was on another process.) A failed hand-over rolls its batch back. A device
 * that reports at once waits for the commit (`applyJobReport` applies it against the state
 * committed). One document per pass. Batches overlap: the next one is made while the last one's
 * log is fsynced (its notices are out already), at most NOTIFY_IN_FLIGHT at once; the pass ends,
 * and releases the deployment's lock, only once all of them have.
 */
async function announceInBatches<T>(
  pass: Pass,
  items: readonly T[],
  load: (tx: Queryable, batch: T[]) => Promise<Pick<Job, "id" | "deploymentId" | "deviceId" | "state">[]>,
): Promise<void> {
  if (items.length === 0) return;
  const { store, channel } = pass.deps;
  const documentOf = await notifyDocuments(store, pass.deployment);
  const inFlight = new Set<Promise<void>>();
  const failures: unknown[] = [];
  for (let i = 0; i < items.length; i += NOTIFY_BATCH) {
    const batch = items.slice(i, i + NOTIFY_BATCH);
    if (inFlight.size >= NOTIFY_IN_FLIGHT) await Promise.race(inFlight);
    const done: Promise<void> = store
      .transaction(async (tx) => {
        const moved = await transitionJobs(tx, await load(tx, batch), "notified", {
          actor: "system",
          deadlineAt: pass.now + timeoutMs(pass.deployment),
        });
        // A device that already has its job does not start it twice (`update-agent.ts`).
        await Promise.all(
          moved.map((job) =>
            channel.publish(job.deviceId, "jobsNotify", documentOf({ ...job, state: "notified" })),
          ),
        );
      })
      .catch((error: unknown) => void failures.push(error))
      .finally(() => inFlight.delete(done));
    inFlight.add(done);
  }
  await Promise.all(inFlight);
  if (failures.length > 0) throw failures[0];
}

/** Step 6: jobs left queued (a batch rolled back, a pass that died) are announced again. */
async function notifyQueued(pass: Pass): Promise<"continue"> {
  if ((pass.counts.queued ?? 0) === 0) return "continue";
  const queued = await jobsInState(pass.deps.store, pass.deployment.id, "queued");
  await announceInBatches(pass, queued, async (_tx, batch) => batch);
  return "continue";
}

const STEPS: Step[] = [
  timeOutJobs,
  abortOnFailures,
  gateWave,
  waitForDeltas,
  admitDevices,
  completeIfDone,
  notifyQueued,
];

/**
 * One pass of the rollout engine over a running deployment, under the deployment's lock across
 * processes: every change is a conditional UPDATE, so a pass that dies midway leaves a state the
 * next pass (on any process, after a restart) simply continues from.
 */
export async function advanceDeployment(deps: RolloutDeps, deploymentId: string): Promise<void> {
  await deps.store.exclusive(`bulwark:deployment:${deploymentId}`, async () => {
    const deployment = await deploymentById(deps.store, deploymentId);
    if (deployment?.status !== "running") {
      deps.eligibility?.delete(deploymentId);
      return;
    }
    const now = Date.now();
    const entry = deps.eligibility?.get(deploymentId);
    const kept = entry && now < entry.until ? entry : undefined;
    const pass: Pass = {
      deps,
      deployment,
      eligible: kept?.devices ?? [],
      fresh: false,
      readEligible: async () => {
        const started = performance.now();
        const { hardware } = await releaseUpdateOf(deps.store, deployment.releaseId);
        const guard = await releaseGuard(deps.store, deployment.releaseId);
        // Only `require` leaves devices out for their agent's delta formats (`prefer` falls back on the device).
        const delta =
          deployment.spec.delta === "require"
            ? await deltaNeedOf(deps.store, deployment.releaseId, "require")
            : undefined;
        const { devices } = await eligibleDevicesUnordered(deps.store, deployment, hardware, guard, delta);
        const took = performance.now() - started;
        pass.eligible = devices;
        pass.fresh = true;
        deps.eligibility?.set(deploymentId, {
          devices,
          until: Date.now() + Math.max(ELIGIBILITY_KEEP_MS, took * ELIGIBILITY_READ_SHARE),
        });
      },
      counts: await jobCountsOf(deps.store, deploymentId),
      now,
    };
    if (!kept) await pass.readEligible();
    for (const step of STEPS) if ((await step(pass)) === "stop") return;
  });
}
