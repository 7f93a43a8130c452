import type { DeltaPolicy } from "@bulwark/sdk/wire/delta";
import type { MaintenanceWindow, NetworkPolicy } from "@bulwark/sdk/wire/jobs";

/** Who a deployment targets; group and query targets take in devices that join later. */
export type DeploymentTarget =
  | { group: string }
  | { devices: string[] }
  | { query: { group?: string; hardwareRevision?: string; model?: string } };

/**
 * How devices are admitted: all at once; cumulative waves by percentage, each gated on its
 * success ratio (optionally pausing for an outside check); a fixed rate per minute; or an
 * exponential ramp (initial × factor^k devices after k intervals).
 */
export type Strategy =
  | { kind: "all-at-once" }
  | { kind: "waves"; waves: number[]; successGate: number; pauseAfterWave: boolean }
  | { kind: "rate"; perMinute: number }
  | { kind: "exponential"; initial: number; factor: number; intervalSeconds: number };

export type CountedFailure = "failed" | "rejected" | "timed_out" | "rolled_back";

/** Automatic abort when the failure rate among finished jobs passes `failureRate` after `minCount`. */
export interface AbortRule {
  failureRate: number;
  minCount: number;
  count: CountedFailure[];
}

export interface DeploymentSpec {
  strategy: Strategy;
  abort: AbortRule;
  window: MaintenanceWindow | null;
  network: NetworkPolicy;
  /** Security releases are mandatory: the device may defer at most this long. */
  maxDeferralSeconds: number;
  /** A job with no progress for this long (deferral aside) is timed out. */
  jobTimeoutSeconds: number;
  /** A fleet rollback to an earlier release (guarded on the device by its anti-rollback counter). */
  rollback: boolean;
  /** Binary deltas (issue #15 item 10): off, prefer (fall back to the full image) or require (never). */
  delta: DeltaPolicy;
}

export const DEFAULT_SPEC: DeploymentSpec = {
  strategy: { kind: "all-at-once" },
  abort: { failureRate: 0.2, minCount: 10, count: ["failed", "rolled_back", "timed_out"] },
  window: null,
  network: { metered: "allow" },
  maxDeferralSeconds: 7 * 24 * 3600,
  jobTimeoutSeconds: 24 * 3600,
  rollback: false,
  delta: "prefer",
};

/**
 * How many devices may have a job by now (cumulative), out of `eligible`: the strategy's
 * admission curve. Pure, so the rollout engine and its tests agree on it.
 */
export function admitted(strategy: Strategy, eligible: number, wave: number, elapsedMs: number): number {
  switch (strategy.kind) {
    case "all-at-once":
      return eligible;
    case "waves": {
      const percent = strategy.waves[Math.min(wave, strategy.waves.length - 1)]!;
      return Math.min(eligible, Math.ceil((percent / 100) * eligible));
    }
    case "rate":
      return Math.min(eligible, strategy.perMinute * (Math.floor(elapsedMs / 60_000) + 1));
    case "exponential": {
      const steps = Math.floor(elapsedMs / (strategy.intervalSeconds * 1000));
      return Math.min(eligible, Math.ceil(strategy.initial * strategy.factor ** steps));
    }
  }
}

/** Whether the strategy has admitted everyone it ever will (the last wave, or the ramp's end). */
export function fullyAdmitted(
  strategy: Strategy,
  eligible: number,
  wave: number,
  elapsedMs: number,
): boolean {
  if (strategy.kind === "waves") return wave >= strategy.waves.length - 1;
  return admitted(strategy, eligible, wave, elapsedMs) >= eligible;
}
