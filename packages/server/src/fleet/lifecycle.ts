import type { DeviceStatus } from "./devices.ts";

/** The incident and lifecycle actions an operator can take on a device. */
export type DeviceAction = "enable" | "disable" | "quarantine" | "compromise" | "decommission";

export const DEVICE_ACTIONS: readonly DeviceAction[] = [
  "enable",
  "disable",
  "quarantine",
  "compromise",
  "decommission",
];

/** The status an action leads to. */
export function targetStatus(action: DeviceAction): DeviceStatus {
  switch (action) {
    case "enable":
      return "active";
    case "disable":
      return "disabled";
    case "quarantine":
      return "quarantined";
    case "compromise":
      return "compromised";
    case "decommission":
      return "decommissioned";
  }
}

/**
 * Which statuses each status may move to. A compromised device's certificates are revoked, so it
 * can only be decommissioned (re-enrolment makes a new device); decommissioned is final.
 */
export function allowedTransitions(from: DeviceStatus): readonly DeviceStatus[] {
  switch (from) {
    case "pending":
      return ["active", "disabled", "decommissioned"];
    case "active":
      return ["disabled", "quarantined", "compromised", "decommissioned"];
    case "disabled":
      return ["active", "quarantined", "compromised", "decommissioned"];
    case "quarantined":
      return ["active", "disabled", "compromised", "decommissioned"];
    case "compromised":
      return ["decommissioned"];
    case "decommissioned":
      return [];
  }
}

export const mayTransition = (from: DeviceStatus, to: DeviceStatus): boolean =>
  allowedTransitions(from).includes(to);

/** What the broker must do to live sessions once a status is committed. */
export type SessionEffect = "none" | "restrict" | "close" | "wipe";

export function sessionEffect(status: DeviceStatus): SessionEffect {
  switch (status) {
    case "pending":
    case "active":
      return "none";
    case "quarantined":
      return "restrict";
    case "disabled":
    case "compromised":
      return "close";
    case "decommissioned":
      return "wipe";
  }
}

/** Whether a device in this status may hold an MQTT session at all. */
export function mayConnect(status: DeviceStatus): boolean {
  switch (status) {
    case "active":
    case "quarantined":
    case "decommissioned": // only to receive its wipe command and confirm it
      return true;
    case "pending":
    case "disabled":
    case "compromised":
      return false;
  }
}
