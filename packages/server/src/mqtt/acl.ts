import { devicePublishKind, deviceSubscribeKind, TOPIC_ROOT } from "@bulwark/sdk/wire/topics";

/** Why the ACL refused something; logged, never sent to the device beyond the MQTT reason. */
export type AclRefusal =
  | "foreign-topic"
  | "retain-not-allowed"
  | "qos-not-allowed"
  | "wildcard-or-foreign-filter";

// docs/architecture.md "Wire protocol": a device publishes only meta, events and job status in its own subtree.
export function checkPublish(
  deviceId: string,
  packet: { topic: string; retain: boolean; qos: number },
): AclRefusal | undefined {
  if (!devicePublishKind(deviceId, packet.topic)) return "foreign-topic";
  // Retained state is kept by the server, not the broker (no retained-message abuse).
  if (packet.retain) return "retain-not-allowed";
  if (packet.qos > 1) return "qos-not-allowed";
  return undefined;
}

// A device subscribes only to its own notify / config / cmd topics, never with wildcards.
export function checkSubscribe(deviceId: string, filter: string): AclRefusal | undefined {
  return deviceSubscribeKind(deviceId, filter) ? undefined : "wildcard-or-foreign-filter";
}

/** Defence in depth on delivery: a device only ever receives messages of its own subtree. */
export function mayReceive(deviceId: string, topic: string): boolean {
  return topic.startsWith(`${TOPIC_ROOT}/${deviceId}/`);
}
