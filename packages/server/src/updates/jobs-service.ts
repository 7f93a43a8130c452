import { isJobStatusReport, isTerminalJobState } from "@bulwark/sdk/wire/jobs";
import type { Logger } from "pino";
import type { BrokerHooks } from "../fleet/broker-hooks.ts";
import type { DeviceChannel } from "../fleet/device-channel.ts";
import type { Store } from "../store/store.ts";
import { openJobsOfDevice, unacknowledgedCancelsOf } from "./deployment-jobs.ts";
import { activeDeploymentIds, deploymentById } from "./deployments.ts";
import { sendFloorNotice, sendNotify } from "./job-notify.ts";
import { applyJobReport, type ReportOutcome } from "./job-reports.ts";
import { advanceDeployment, type KeptEligibility, type RolloutDeps } from "./rollout.ts";

/** The update jobs' runtime: the rollout engine's schedule and what the broker calls for jobs. */
export interface UpdateJobs {
  rollout: RolloutDeps;
  /** Runs a pass of the deployment soon (coalesced: one pass at a time per deployment). */
  wake(deploymentId: string): void;
  /** A device's report on `jobs/{jobId}/status`, parsed (`BrokerHooks.jobStatus`). */
  jobStatus(deviceId: string, jobId: string, report: unknown): Promise<void>;
  /**
   * The device (re)subscribed to `jobs/notify`: its anti-rollback floor as the server knows it, then
   * its open jobs, and cancels not acknowledged, are sent again.
   */
  subscribed(deviceId: string): Promise<void>;
  start(intervalMs: number): void;
  stop(): Promise<void>;
}

/** Reports applied per transaction at most (group commit: one commit, one fsync, for all of them). */
export const REPORT_BATCH = 256;
/** The shortest time between two commits of reports (unless a whole batch is waiting). */
export const REPORT_WINDOW_MS = 50;
/**
 * Passes woken by device reports run at most this often per deployment (one pass for all the
 * reports meanwhile): a pass reads every eligible device of its deployment (its jobs only counted
 * by state, `rollout.ts`), so at 10,000 devices passes woken by every report would take the event
 * loop from serving the downloads.
 */
const REPORT_WAKE_MS = 1000;

interface PendingReport {
  deviceId: string;
  jobId: string;
  report: unknown;
  settle: (error?: unknown) => void;
}

export function updateJobs(deps: {
  store: Store;
  channel: Pick<DeviceChannel, "publish">;
  log: Logger;
}): UpdateJobs {
  // Passes of the tick and of job ends count with a recent eligibility read (rollout.ts).
  const eligibility = new Map<string, KeptEligibility>();
  const rollout: RolloutDeps = { ...deps, eligibility };
  const running = new Map<string, Promise<void>>();
  const again = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const pass = (id: string) => {
    if (stopped) return;
    if (running.has(id)) {
      again.add(id);
      return;
    }
    const done = advanceDeployment(rollout, id)
      .catch((error: unknown) => deps.log.error({ err: error, deploymentId: id }, "rollout pass failed"))
      .finally(() => {
        running.delete(id);
        if (again.delete(id)) pass(id);
      });
    running.set(id, done);
  };
  // An operator's change (a deployment made, resumed) is acted on with the fleet as it is now.
  const wake = (id: string) => {
    eligibility.delete(id);
    pass(id);
  };

  // Reports change no admission: a pass is woken only by a job's end (which the abort rule, the wave
  // gate and completion count), once per REPORT_WAKE_MS at most; deadlines are the tick's.
  // The first end after a quiet spell wakes a pass at once (a deployment completes as its last
  // device reports).
  const soon = new Map<string, NodeJS.Timeout>();
  const lastWoken = new Map<string, number>();
  const wakeSoon = (id: string) => {
    if (stopped || soon.has(id)) return;
    const fire = () => {
      soon.delete(id);
      lastWoken.set(id, Date.now());
      pass(id);
    };
    const wait = (lastWoken.get(id) ?? 0) + REPORT_WAKE_MS - Date.now();
    if (wait <= 0) fire();
    else soon.set(id, setTimeout(fire, wait));
  };

  // Group commit: at most one commit per REPORT_WINDOW_MS; the reports that arrive meanwhile are
  // applied together in the next transaction, each in arrival order, each resolving once committed
  // (the broker acknowledges a report only then). A report after a quiet spell commits at once.
  const pending: PendingReport[] = [];
  let draining: Promise<void> | undefined;
  let lastCommitAt = 0;
  const applyBatch = async (batch: PendingReport[]) => {
    let outcomes: { outcome: ReportOutcome; deploymentId?: string }[];
    try {
      // Each state change and its event row commit together (a crash between them lost the event).
      outcomes = await deps.store.transaction(async (tx) => {
        const out = [];
        const deployments = new Map();
        for (const r of batch) out.push(await applyJobReport(tx, r.deviceId, r.jobId, r.report, deployments));
        return out;
      });
    } catch (error) {
      // A batch that cannot be stored (the database failing) fails each of its reports: none is
      // acknowledged, so each device sends its report again (`mqtt/handlers/publish.ts`).
      for (const r of batch) r.settle(error);
      return;
    }
    batch.forEach((r, i) => {
      const { outcome, deploymentId } = outcomes[i]!;
      if (outcome === "recorded" && deploymentId && ended(r.report)) wakeSoon(deploymentId);
      r.settle();
    });
  };
  const drain = () => {
    if (draining) return;
    draining = (async () => {
      // Two batches overlap: the next one is applied and committed while the last one's commit is
      // made durable (the store's fsync runs off the event loop and covers both when they meet).
      const inFlight = new Set<Promise<void>>();
      while (pending.length > 0 || inFlight.size > 0) {
        if (pending.length === 0) {
          await Promise.race(inFlight); // reports arriving meanwhile are taken by this loop
          continue;
        }
        // The window: reports arriving one by one would each get a commit (and an fsync) of their own.
        const wait = lastCommitAt + REPORT_WINDOW_MS - Date.now();
        if (pending.length < REPORT_BATCH && wait > 0) await new Promise((r) => setTimeout(r, wait));
        lastCommitAt = Date.now();
        const applied: Promise<void> = applyBatch(pending.splice(0, REPORT_BATCH)).finally(() =>
          inFlight.delete(applied),
        );
        inFlight.add(applied);
        if (inFlight.size >= 2) await Promise.race(inFlight);
      }
    })().finally(() => {
      draining = undefined;
    });
  };

  return {
    rollout,
    wake,
    jobStatus(deviceId, jobId, report) {
      return new Promise<void>((resolve, reject) => {
        pending.push({ deviceId, jobId, report, settle: (error) => (error ? reject(error) : resolve()) });
        drain();
      });
    },
    async subscribed(deviceId) {
      // The floor first: the agent raises its own before it looks at any job sent below.
      await sendFloorNotice(deps.channel, deps.store, deviceId);
      for (const job of await openJobsOfDevice(deps.store, deviceId)) {
        if (job.state === "queued") continue;
        const deployment = await deploymentById(deps.store, job.deploymentId);
        if (deployment) await sendNotify(deps.channel, deps.store, deployment, job);
      }
      // A cancel the device has not acknowledged (it was offline, or its notice was lost) goes again.
      for (const job of await unacknowledgedCancelsOf(deps.store, deviceId)) {
        const deployment = await deploymentById(deps.store, job.deploymentId);
        if (deployment) await sendNotify(deps.channel, deps.store, deployment, job);
      }
    },
    start(intervalMs) {
      const tick = async () => {
        try {
          const active = new Set(await activeDeploymentIds(deps.store));
          // A kept read outlives no deployment (each holds a list of device ids): one that ended,
          // or paused, on any process is dropped here; a resume reads afresh anyway.
          for (const id of eligibility.keys()) if (!active.has(id)) eligibility.delete(id);
          for (const id of active) pass(id);
        } catch (error) {
          deps.log.error({ err: error }, "rollout schedule failed");
        }
      };
      timer = setInterval(() => void tick(), intervalMs);
      timer.unref();
      void tick();
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      for (const t of soon.values()) clearTimeout(t);
      soon.clear();
      await draining;
      await Promise.allSettled(running.values());
    },
  };
}

/** Whether a report ends its job (what the rollout engine's steps count). */
const ended = (report: unknown) => isJobStatusReport(report) && isTerminalJobState(report.state);

/** The fleet's broker hooks with update jobs added: job reports and `jobs/notify` subscriptions. */
export function withUpdateJobs(hooks: BrokerHooks, jobs: UpdateJobs): BrokerHooks {
  return {
    async subscribed(deviceId, kind, status) {
      await hooks.subscribed(deviceId, kind, status);
      if (kind === "jobsNotify" && status === "active") await jobs.subscribed(deviceId);
    },
    metadata: (deviceId, payload) => hooks.metadata(deviceId, payload),
    report: (deviceId, payload) => hooks.report(deviceId, payload),
    async jobStatus(deviceId, jobId, report) {
      await hooks.jobStatus(deviceId, jobId, report);
      await jobs.jobStatus(deviceId, jobId, report);
    },
  };
}
