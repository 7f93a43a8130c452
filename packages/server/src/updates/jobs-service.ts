import type { Logger } from "pino";
import type { BrokerHooks } from "../fleet/broker-hooks.ts";
import type { DeviceChannel } from "../fleet/device-channel.ts";
import type { Store } from "../store/store.ts";
import { openJobsOfDevice } from "./deployment-jobs.ts";
import { activeDeploymentIds, deploymentById } from "./deployments.ts";
import { sendNotify } from "./job-notify.ts";
import { applyJobReport } from "./job-reports.ts";
import { advanceDeployment, type RolloutDeps } from "./rollout.ts";

/** The update jobs' runtime: the rollout engine's schedule and what the broker calls for jobs. */
export interface UpdateJobs {
  rollout: RolloutDeps;
  /** Runs a pass of the deployment soon (coalesced: one pass at a time per deployment). */
  wake(deploymentId: string): void;
  jobStatus(deviceId: string, jobId: string, payload: Buffer): Promise<void>;
  /** The device (re)subscribed to `jobs/notify`: its open jobs are announced again. */
  subscribed(deviceId: string): Promise<void>;
  start(intervalMs: number): void;
  stop(): Promise<void>;
}

export function updateJobs(deps: {
  store: Store;
  channel: Pick<DeviceChannel, "publish">;
  log: Logger;
}): UpdateJobs {
  const rollout: RolloutDeps = deps;
  const running = new Map<string, Promise<void>>();
  const again = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const wake = (id: string) => {
    if (stopped) return;
    if (running.has(id)) {
      again.add(id);
      return;
    }
    const pass = advanceDeployment(rollout, id)
      .catch((error: unknown) => deps.log.error({ err: error, deploymentId: id }, "rollout pass failed"))
      .finally(() => {
        running.delete(id);
        if (again.delete(id)) wake(id);
      });
    running.set(id, pass);
  };

  return {
    rollout,
    wake,
    async jobStatus(deviceId, jobId, payload) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(payload.toString("utf8"));
      } catch {
        return;
      }
      // The state change and its event row commit together (a crash between them lost the event).
      const { outcome, deploymentId } = await deps.store.transaction((tx) =>
        applyJobReport(tx, deviceId, jobId, parsed),
      );
      if (outcome === "recorded" && deploymentId) wake(deploymentId);
    },
    async subscribed(deviceId) {
      for (const job of await openJobsOfDevice(deps.store, deviceId)) {
        if (job.state === "queued") continue;
        const deployment = await deploymentById(deps.store, job.deploymentId);
        if (deployment) await sendNotify(deps.channel, deps.store, deployment, job);
      }
    },
    start(intervalMs) {
      const tick = async () => {
        try {
          for (const id of await activeDeploymentIds(deps.store)) wake(id);
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
      await Promise.allSettled(running.values());
    },
  };
}

/** The fleet's broker hooks with update jobs added: job reports and `jobs/notify` subscriptions. */
export function withUpdateJobs(hooks: BrokerHooks, jobs: UpdateJobs): BrokerHooks {
  return {
    async subscribed(deviceId, kind, status) {
      await hooks.subscribed(deviceId, kind, status);
      if (kind === "jobsNotify" && status === "active") await jobs.subscribed(deviceId);
    },
    metadata: (deviceId, payload) => hooks.metadata(deviceId, payload),
    report: (deviceId, payload) => hooks.report(deviceId, payload),
    async jobStatus(deviceId, jobId, payload) {
      await hooks.jobStatus(deviceId, jobId, payload);
      await jobs.jobStatus(deviceId, jobId, payload);
    },
  };
}
