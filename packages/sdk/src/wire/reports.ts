/**
 * What a device publishes on its `events` topic: a tagged union. Security events are the ones a
 * device or its policy can opt out of (CRA Annex I Part I (2)(l)); configuration acknowledgements
 * and the logging state itself are operational and always sent.
 */
export const SECURITY_EVENT_KINDS = [
  "login-failed",
  "integrity-failure",
  "update-verification-failed",
  "config-changed",
] as const;
export type SecurityEventKind = (typeof SECURITY_EVENT_KINDS)[number];

export type DeviceReport =
  | {
      type: "security-event";
      kind: SecurityEventKind;
      /** ISO 8601 time on the device. */
      at: string;
      /** Short, non-personal description (the agent never sends user names or passwords). */
      detail?: string;
      /**
       * The event's id, unique per device (`[A-Za-z0-9_-]{1,64}`): QoS 1 is at-least-once (MQTT
       * 3.1.1 / 5 §4.3.2), so an event whose PUBACK was lost arrives again, and the server keeps one
       * per id. Absent from agents before it (each of their events is kept).
       */
      id?: string;
    }
  | { type: "config-applied"; policy: string; version: number }
  | { type: "config-rejected"; reason: string }
  | {
      type: "event-logging";
      enabled: boolean;
      /** Who turned it off: the device's user (local opt-out) or the policy. */
      source: "device" | "policy";
    };

const MAX_TEXT = 256;
const hasControl = (v: string) => {
  for (let i = 0; i < v.length; i++) if (v.charCodeAt(i) < 0x20 || v.charCodeAt(i) === 0x7f) return true;
  return false;
};
const text = (v: unknown, max = MAX_TEXT): v is string =>
  typeof v === "string" && v.length > 0 && v.length <= max && !hasControl(v);
const EVENT_ID = /^[A-Za-z0-9_-]{1,64}$/;
const keysWithin = (o: object, keys: string[]) => Object.keys(o).every((k) => keys.includes(k));

/** Validates a parsed report; undefined when it is not one (the broker drops and counts it). */
export function parseDeviceReport(v: unknown): DeviceReport | undefined {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
  const r = v as Record<string, unknown>;
  switch (r.type) {
    case "security-event":
      return keysWithin(r, ["type", "kind", "at", "detail", "id"]) &&
        (r.id === undefined || (typeof r.id === "string" && EVENT_ID.test(r.id))) &&
        (SECURITY_EVENT_KINDS as readonly unknown[]).includes(r.kind) &&
        typeof r.at === "string" &&
        !Number.isNaN(Date.parse(r.at)) &&
        r.at.length <= 40 &&
        (r.detail === undefined || text(r.detail))
        ? (r as DeviceReport)
        : undefined;
    case "config-applied":
      return keysWithin(r, ["type", "policy", "version"]) &&
        text(r.policy, 64) &&
        typeof r.version === "number" &&
        Number.isInteger(r.version) &&
        r.version >= 1
        ? (r as DeviceReport)
        : undefined;
    case "config-rejected":
      return keysWithin(r, ["type", "reason"]) && text(r.reason) ? (r as DeviceReport) : undefined;
    case "event-logging":
      return keysWithin(r, ["type", "enabled", "source"]) &&
        typeof r.enabled === "boolean" &&
        (r.source === "device" || r.source === "policy")
        ? (r as DeviceReport)
        : undefined;
    default:
      return undefined;
  }
}
