import type { TargetFile } from "@bulwark/sdk/tuf";
import semver from "semver";

/**
 * The agent's reading of the anti-rollback counter (issue #15): the server signs each target with
 * its release's counter, `custom.antiRollbackCounter` (TUF spec §4.5 custom: covered by the
 * signature of the role that lists the target, so it cannot be changed without failing TUF
 * verification, §5.6.3). The counter is the number of the product component's published security
 * releases at or below the release's version (server `updates/anti-rollback.ts`).
 */

/** A signed target's counter: undefined for a target published before counters were signed. */
export function signedCounter(target: TargetFile): number | undefined | Error {
  const value = target.custom?.antiRollbackCounter;
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || (value as number) < 0)
    return new Error(
      `the signed target's anti-rollback counter ${JSON.stringify(value)} is not a non-negative integer`,
    );
  return value as number;
}

/**
 * The counter of `version`, counted from a role's signed targets as the server counts it: the
 * distinct versions of the component's security targets at or below it. This migrates a floor
 * kept by version (an agent that installed targets without a counter) to a counter: applied to the
 * installed version, it is the counter the server derives for what the device runs.
 */
export function counterFromTargets(
  targets: Record<string, TargetFile>,
  component: string,
  version: string,
): number {
  if (!semver.valid(version)) return 0;
  const security = new Set<string>();
  for (const [path, target] of Object.entries(targets)) {
    const v = target.custom?.version;
    if (!path.startsWith(`${component}/`) || target.custom?.kind !== "security") continue;
    if (typeof v === "string" && semver.valid(v) && semver.lte(v, version)) security.add(v);
  }
  return security.size;
}
