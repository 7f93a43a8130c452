/**
 * Device lifecycle states, as the HTTP API and the servers' control bus carry them; transitions
 * live in the server's `fleet/lifecycle.ts`.
 */
export type DeviceStatus =
  | "pending"
  | "active"
  | "disabled"
  | "quarantined"
  | "compromised"
  | "decommissioned";

export const DEVICE_STATUSES: readonly DeviceStatus[] = [
  "pending",
  "active",
  "disabled",
  "quarantined",
  "compromised",
  "decommissioned",
];
