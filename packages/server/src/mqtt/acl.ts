import {
  type DevicePublishKind,
  type DeviceSubscribeKind,
  devicePublishKind,
  deviceSubscribeKind,
  TOPIC_ROOT,
} from "@bulwark/sdk/wire/topics";
import type { DeviceStatus } from "../fleet/devices.ts";

/** Why the ACL refused something; logged, never sent to the device beyond the MQTT reason. */
export type AclRefusal =
  | "foreign-topic"
  | "not-in-this-status"
  | "retain-not-allowed"
  | "qos-not-allowed"
  | "malformed-utf8"
  | "wildcard-or-foreign-filter";

/** What a device may publish in each status in which it may hold a session. */
function publishAllowed(status: DeviceStatus, kind: DevicePublishKind): boolean {
  switch (status) {
    case "active":
    case "quarantined": // reporting status and events is exactly what quarantine keeps
      return true;
    case "decommissioned": // only the confirmation of its wipe
      return kind === "jobStatus";
    case "pending":
    case "disabled":
    case "compromised":
      return false;
  }
}

/**
 * What a device receives in each status. Quarantine receives remediation only: signed `config`
 * (a policy that fixes it) and `cmd` (wipe and other commands); `jobs/notify` (updates) waits.
 */
export function receiveAllowed(status: DeviceStatus, kind: DeviceSubscribeKind): boolean {
  switch (status) {
    case "active":
      return true;
    case "quarantined":
      return kind === "config" || kind === "cmd";
    case "decommissioned":
      return kind === "cmd";
    case "pending":
    case "disabled":
    case "compromised":
      return false;
  }
}

// MQTT 3.1.1 §1.5.3 [MQTT-1.5.3-1/2]: ill-formed UTF-8 (decoded as U+FFFD) and U+0000 close the connection.
const hasMalformedUtf8 = (topic: string) => topic.includes("\uFFFD") || topic.includes("\u0000");

// docs/architecture.md "Wire protocol": a device publishes only meta, events and job status in its own subtree.
export function checkPublish(
  deviceId: string,
  packet: { topic: string; retain: boolean; qos: number },
  status: DeviceStatus,
): AclRefusal | undefined {
  if (hasMalformedUtf8(packet.topic)) return "malformed-utf8";
  const kind = devicePublishKind(deviceId, packet.topic);
  if (!kind) return "foreign-topic";
  if (!publishAllowed(status, kind)) return "not-in-this-status";
  // Retained state is kept by the server, not the broker (no retained-message abuse).
  if (packet.retain) return "retain-not-allowed";
  if (packet.qos > 1) return "qos-not-allowed";
  return undefined;
}

// A device subscribes only to its own notify / config / cmd topics, never with wildcards.
export function checkSubscribe(deviceId: string, filter: string): AclRefusal | undefined {
  if (hasMalformedUtf8(filter)) return "malformed-utf8";
  return deviceSubscribeKind(deviceId, filter) ? undefined : "wildcard-or-foreign-filter";
}

/** Checked again on every delivery: own subtree only, and only what the current status admits. */
export function mayReceive(deviceId: string, topic: string, status: DeviceStatus): boolean {
  if (!topic.startsWith(`${TOPIC_ROOT}/${deviceId}/`)) return false;
  const kind = deviceSubscribeKind(deviceId, topic);
  return kind !== undefined && receiveAllowed(status, kind);
}
