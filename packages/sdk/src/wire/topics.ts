/**
 * MQTT topic names of the device ↔ server wire protocol (docs/architecture.md, "Wire protocol").
 * Every device topic lives under `bw/v1/d/{deviceId}/`; a device may touch only its own subtree.
 */
export const TOPIC_ROOT = "bw/v1/d";

export const deviceTopics = (deviceId: string) => ({
  meta: `${TOPIC_ROOT}/${deviceId}/meta`,
  events: `${TOPIC_ROOT}/${deviceId}/events`,
  jobsNotify: `${TOPIC_ROOT}/${deviceId}/jobs/notify`,
  jobStatus: (jobId: string) => `${TOPIC_ROOT}/${deviceId}/jobs/${jobId}/status`,
  config: `${TOPIC_ROOT}/${deviceId}/config`,
  cmd: `${TOPIC_ROOT}/${deviceId}/cmd`,
});

/** What a device may publish (device → server). */
export type DevicePublishKind = "meta" | "events" | "jobStatus";
/** What a device may subscribe to (server → device). */
export type DeviceSubscribeKind = "jobsNotify" | "config" | "cmd";

const JOB_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Classifies a topic a device wants to publish to; undefined when it is not one of its own. */
export function devicePublishKind(deviceId: string, topic: string): DevicePublishKind | undefined {
  const prefix = `${TOPIC_ROOT}/${deviceId}/`;
  if (!topic.startsWith(prefix)) return undefined;
  const rest = topic.slice(prefix.length);
  if (rest === "meta") return "meta";
  if (rest === "events") return "events";
  const parts = rest.split("/");
  if (parts.length === 3 && parts[0] === "jobs" && parts[2] === "status" && JOB_ID.test(parts[1]!))
    return "jobStatus";
  return undefined;
}

/** Classifies a subscription filter; wildcards are never allowed for devices. */
export function deviceSubscribeKind(deviceId: string, filter: string): DeviceSubscribeKind | undefined {
  if (filter.includes("+") || filter.includes("#")) return undefined;
  const topics = deviceTopics(deviceId);
  if (filter === topics.jobsNotify) return "jobsNotify";
  if (filter === topics.config) return "config";
  if (filter === topics.cmd) return "cmd";
  return undefined;
}

/** The job id of a device's own `jobs/{jobId}/status` topic, if `topic` is one. */
export function jobIdOfStatusTopic(deviceId: string, topic: string): string | undefined {
  if (devicePublishKind(deviceId, topic) !== "jobStatus") return undefined;
  return topic.split("/")[5];
}
