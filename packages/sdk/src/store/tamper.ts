import type { DeviceReport } from "../wire/reports.ts";

/** Where in the store the damage was found. */
export type TamperLocation = { kind: "keyring" } | { kind: "record"; purpose: string; name: string };

/** Why the store refused what it read. */
export type TamperReason =
  | "authentication-failed" // AES-256-GCM tag mismatch: changed bytes, swapped files, another KEK
  | "malformed" // not a store file at all (bad magic, truncated, unreadable keyring)
  | "keyring-missing"; // records exist but the keyring that unlocks them is gone

/** The device security event a tampered store raises (CRA Annex I Part I (2)(f) integrity, (2)(l) logging). */
export interface StoreTamperEvent {
  type: "store-tampered";
  at: string;
  location: TamperLocation;
  reason: TamperReason;
}

/** Thrown after `onSecurityEvent` has been told; the store never returns data it could not authenticate. */
export class StoreTamperError extends Error {
  override name = "StoreTamperError";
  readonly code = "BW_STORE_TAMPERED";
  readonly event: StoreTamperEvent;
  constructor(event: StoreTamperEvent) {
    super(`encrypted store: ${describeLocation(event.location)} ${event.reason}`);
    this.event = event;
  }
}

const describeLocation = (l: TamperLocation) =>
  l.kind === "keyring" ? "keyring" : `record ${l.purpose}/${l.name}`;

/**
 * The event as the agent reports it on its `events` topic (`wire/reports.ts`): an integrity
 * failure with a short, non-personal detail.
 */
export function toSecurityReport(event: StoreTamperEvent): Extract<DeviceReport, { type: "security-event" }> {
  return {
    type: "security-event",
    kind: "integrity-failure",
    at: event.at,
    detail: `encrypted store: ${describeLocation(event.location)}: ${event.reason}`,
  };
}
