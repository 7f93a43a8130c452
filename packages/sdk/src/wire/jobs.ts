import { DELTA_POLICIES, type DeltaPolicy } from "./delta.ts";
import { isCounters } from "./metadata.ts";

/**
 * Update jobs on the wire (issue #15): the server announces a job on `jobs/notify`, the device
 * reports each state change on `jobs/{jobId}/status`. What to install is never taken from the
 * job itself: the device resolves `target` through its product's TUF repository (TUF spec §5),
 * so a forged or replayed job can at most ask for a verified, non-rollback update.
 */

/** Every state a device's job can be in; the terminal ones never change again. */
export const JOB_STATES = [
  "queued",
  "notified",
  "deferred",
  "rejected",
  "downloading",
  "verifying",
  "installing",
  "succeeded",
  "failed",
  "rolled_back",
  "canceled",
  "timed_out",
] as const;
export type JobState = (typeof JOB_STATES)[number];

export const TERMINAL_JOB_STATES: readonly JobState[] = [
  "rejected",
  "succeeded",
  "failed",
  "rolled_back",
  "canceled",
  "timed_out",
];

/** What a device itself may report (the server sets queued, notified, canceled and timed_out). */
export const DEVICE_JOB_STATES: readonly JobState[] = [
  "deferred",
  "rejected",
  "downloading",
  "verifying",
  "installing",
  "succeeded",
  "failed",
  "rolled_back",
];

export const isTerminalJobState = (state: JobState): boolean => TERMINAL_JOB_STATES.includes(state);

/** A maintenance window: install only inside it (download may happen earlier). */
export interface MaintenanceWindow {
  /** Five-field cron expression of the window's start (e.g. "0 2 * * *"). */
  cron: string;
  /** IANA time zone the cron expression is read in (e.g. "Europe/Berlin"). */
  timeZone: string;
  durationMinutes: number;
}

/** Metered networks: download only on an allowed network, or under a size cap. Never a silent fallback. */
export interface NetworkPolicy {
  metered: "allow" | "deny" | "cap";
  /** With "cap": the largest download allowed on a metered network, in bytes. */
  maxMeteredBytes?: number;
}

/** Server → device on `jobs/notify`. */
export interface JobNotify {
  type: "update";
  jobId: string;
  deploymentId: string;
  productId: string;
  /** The job's state on the server: "canceled" tells the device to stop. */
  state: JobState;
  /** TUF target paths (`{component}/{version}/{name}`) and which installer each takes. */
  targets: { path: string; artifact: "binary" | "config" }[];
  component: string;
  version: string;
  kind: "security" | "feature";
  /** Security releases are mandatory: deferral up to `maxDeferralSeconds`, never refusal of automatic install. */
  mandatory: boolean;
  maxDeferralSeconds: number;
  window: MaintenanceWindow | null;
  network: NetworkPolicy;
  /**
   * Binary deltas (issue #15 item 10, `wire/delta.ts`): "prefer" (absent: the same) installs from a
   * signed delta when the device's image is its base, the full target otherwise; "require" never
   * falls back to the full target (the job fails with the reason); "off" always takes the full one.
   */
  delta?: DeltaPolicy;
  /** Anti-rollback: the device refuses a target whose counter is below the one it installed. */
  rollback: boolean;
  issuedAt: number;
}

/**
 * Device → server on `jobs/{jobId}/status`. A device reports the states of `DEVICE_JOB_STATES`, and
 * "canceled" only as the acknowledgement of the server's cancel (it never moves a job): until it
 * comes, the server sends the cancel again each time the device subscribes to `jobs/notify`.
 */
export interface JobStatusReport {
  state: JobState;
  /** Why (required for failed, rolled_back, rejected, deferred). */
  reason?: string;
  progress?: { bytes: number; total: number };
  /** Until when the device defers (epoch ms), with state "deferred". */
  deferUntil?: number;
}

const JOB_ID = /^[A-Za-z0-9_-]{1,64}$/;
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

export function isJobStatusReport(v: unknown): v is JobStatusReport {
  if (!isObject(v)) return false;
  if (
    typeof v.state !== "string" ||
    !([...DEVICE_JOB_STATES, "canceled"] as readonly string[]).includes(v.state)
  )
    return false;
  if (v.reason !== undefined && (typeof v.reason !== "string" || v.reason.length > 500)) return false;
  if (v.deferUntil !== undefined && !Number.isSafeInteger(v.deferUntil)) return false;
  if (v.progress !== undefined) {
    if (!isObject(v.progress)) return false;
    const { bytes, total } = v.progress;
    if (!Number.isSafeInteger(bytes) || !Number.isSafeInteger(total) || (bytes as number) < 0) return false;
  }
  return true;
}

export function isJobNotify(v: unknown): v is JobNotify {
  if (!isObject(v) || v.type !== "update") return false;
  return (
    typeof v.jobId === "string" &&
    JOB_ID.test(v.jobId) &&
    typeof v.deploymentId === "string" &&
    typeof v.productId === "string" &&
    typeof v.state === "string" &&
    (JOB_STATES as readonly string[]).includes(v.state) &&
    Array.isArray(v.targets) &&
    v.targets.length > 0 &&
    v.targets.every(
      (t) =>
        isObject(t) && typeof t.path === "string" && (t.artifact === "binary" || t.artifact === "config"),
    ) &&
    typeof v.component === "string" &&
    typeof v.version === "string" &&
    (v.kind === "security" || v.kind === "feature") &&
    typeof v.mandatory === "boolean" &&
    Number.isSafeInteger(v.maxDeferralSeconds) &&
    (v.window === null || isObject(v.window)) &&
    isObject(v.network) &&
    typeof v.rollback === "boolean" &&
    (v.delta === undefined || (DELTA_POLICIES as readonly unknown[]).includes(v.delta)) &&
    typeof v.issuedAt === "number"
  );
}

/**
 * `jobs/notify` (server → device), besides job notices: the device's anti-rollback floor as the
 * server knows it — per component, the highest signed counter of the releases the device's
 * succeeded jobs installed (server `updates/anti-rollback.ts`, `installedCounters`). Sent when the
 * device subscribes, before its open jobs, over its mutual-TLS session. The agent raises its own
 * floor to it and never lowers it, so a copy of its store put back (without a TPM to hold the
 * floor) cannot take it below what the server saw installed. Agents before it ignore it as a
 * malformed job notice.
 */
export interface FloorNotice {
  type: "anti-rollback-floor";
  /** Component → counter: at most 16 components, integers ≥ 0 (as `antiRollbackCounters` in metadata). */
  counters: Record<string, number>;
  issuedAt: number;
}

export function isFloorNotice(v: unknown): v is FloorNotice {
  if (typeof v !== "object" || v === null) return false;
  const n = v as Record<string, unknown>;
  return n.type === "anti-rollback-floor" && isCounters(n.counters) && typeof n.issuedAt === "number";
}
