import { formatExpires } from "../metadata.ts";

/**
 * How long each role's metadata stays valid (TUF spec §4.3 EXPIRES; §6.1 on online and offline
 * keys). Root and targets are signed rarely (root by offline keys); snapshot and timestamp by
 * online keys, the timestamp with the shortest life so a freeze attack (§5.4.4) ends quickly.
 */
export interface ExpiryPolicy {
  rootSeconds: number;
  targetsSeconds: number;
  snapshotSeconds: number;
  timestampSeconds: number;
}

const DAY = 86_400;

export const DEFAULT_EXPIRY: ExpiryPolicy = {
  rootSeconds: 365 * DAY,
  targetsSeconds: 90 * DAY,
  snapshotSeconds: 7 * DAY,
  timestampSeconds: DAY,
};

/** The EXPIRES string of metadata for `role` signed at `now`; delegated roles live as long as targets. */
export function expiresFor(role: string, now: Date, policy: ExpiryPolicy): string {
  const seconds =
    role === "root"
      ? policy.rootSeconds
      : role === "snapshot"
        ? policy.snapshotSeconds
        : role === "timestamp"
          ? policy.timestampSeconds
          : policy.targetsSeconds;
  return formatExpires(new Date(now.getTime() + seconds * 1000));
}
