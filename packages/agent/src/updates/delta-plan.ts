import {
  DELTA_FORMATS,
  DELTA_LIMITS,
  type DeltaCustom,
  type DeltaPolicy,
  SEGMENTED_DELTA_FORMAT,
} from "@bulwark/sdk/wire/delta";
import type { NetworkPolicy } from "@bulwark/sdk/wire/jobs";

/** One target of a job as the plan sees it: its full size and, if usable, a signed delta's. */
export interface PlanTarget {
  path: string;
  fullLength: number;
  /** A signed delta from this device's current image that passed `checkDelta`. */
  delta?: { length: number };
  /** Why there is no usable delta (reported when falling back or refusing). */
  noDelta?: string;
}

export type TransferPlan =
  | { kind: "go"; use: ("delta" | "full")[]; bytes: number; summary: string }
  | { kind: "hold"; reason: string }
  | { kind: "end"; reason: string };

/**
 * Which file each target comes from, under the deployment's delta policy and the metered-network
 * policy together (issue #15 item 10): "off" takes the full image; "prefer" a usable delta, else the
 * full image; "require" a usable delta or nothing (the job ends with the reason). The metered cap
 * is applied to what will actually be downloaded, so a delta under the cap goes where the full
 * image would not, and a fallback to the full image is held like any download over the cap:
 * never a silent fallback to more than the policy allows.
 */
export function planTransfer(
  policy: DeltaPolicy,
  targets: PlanTarget[],
  network: NetworkPolicy,
  metered: boolean,
): TransferPlan {
  const use: ("delta" | "full")[] = [];
  for (const t of targets) {
    if (policy !== "off" && t.delta) use.push("delta");
    else if (policy === "require")
      return {
        kind: "end",
        reason: `the deployment requires a delta and ${t.path} has none usable: ${t.noDelta ?? "none signed"}`,
      };
    else use.push("full");
  }
  const bytes = targets.reduce((n, t, i) => n + (use[i] === "delta" ? t.delta!.length : t.fullLength), 0);
  if (metered) {
    if (network.metered === "deny")
      return { kind: "hold", reason: "on a metered network: waiting for an allowed one" };
    if (network.metered === "cap" && bytes > (network.maxMeteredBytes ?? 0))
      return {
        kind: "hold",
        reason: `${bytes} bytes exceed the metered cap of ${network.maxMeteredBytes}: waiting for an unmetered network`,
      };
  }
  const full = targets.reduce((n, t) => n + t.fullLength, 0);
  const deltas = use.filter((u) => u === "delta").length;
  const why = targets.find((t, i) => use[i] === "full" && policy !== "off" && t.noDelta)?.noDelta;
  const summary =
    deltas > 0
      ? `delta: ${bytes} of ${full} bytes (${deltas} of ${targets.length} targets from a delta)`
      : `full: ${bytes} bytes${policy === "off" ? " (deltas off)" : why ? ` (${why})` : ""}`;
  return { kind: "go", use, bytes, summary };
}

/**
 * Whether a signed delta target may be used for the full target `full` from the image with
 * SHA-256 `mine`: its `custom.delta` must name exactly this base and this full target (path,
 * length, SHA-256), a window the device accepts, and be smaller than the full image.
 * Returns the reason it may not, or undefined.
 */
export function checkDelta(
  custom: DeltaCustom | undefined,
  deltaLength: number,
  full: { path: string; length: number; sha256: string },
  mine: string,
): string | undefined {
  // Formats this agent does not know are not parsed (`parseDeltaCustom`), so never picked.
  if (!custom)
    return `the delta target carries no delta description this agent knows (${DELTA_FORMATS.join(", ")})`;
  if (custom.base.sha256 !== mine)
    return `the delta is for base ${custom.base.sha256.slice(0, 16)}…, this device's image is ${mine.slice(0, 16)}…`;
  if (
    custom.target.path !== full.path ||
    custom.target.sha256 !== full.sha256 ||
    custom.target.length !== full.length
  )
    return "the delta names a different full target than the one signed";
  if (custom.windowLog > DELTA_LIMITS.maxWindowLog)
    return `the delta needs a 2^${custom.windowLog}-byte window, above this device's 2^${DELTA_LIMITS.maxWindowLog}`;
  if (
    custom.format === SEGMENTED_DELTA_FORMAT &&
    (custom.segmentBytes! > DELTA_LIMITS.maxSegmentBytes ||
      custom.referenceBytes! > DELTA_LIMITS.maxReferenceBytes)
  )
    return `the delta's segments (${custom.segmentBytes} bytes) or references (${custom.referenceBytes} bytes) are over this device's limits`;
  if (deltaLength >= full.length)
    return `the delta (${deltaLength} bytes) is not smaller than the full image (${full.length} bytes)`;
  return undefined;
}
