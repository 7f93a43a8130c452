import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { DeviceReport, SecurityEventKind } from "@bulwark/sdk/wire/reports";
import { writeAtomic } from "./state.ts";
import { openJson, readDataKey, sealJson } from "./vault.ts";

/**
 * Device security events (CRA Annex I Part I (2)(l)). Local components (a PAM hook, the update
 * installer) hand events to the agent through a spool directory (`bulwark-agent report-event`);
 * the agent sends them on its `events` topic — unless the device's user opted out
 * (`bulwark-agent event-logging off`) or its policy turns logging off: then nothing is sent,
 * the spool is discarded, and only the opt-out itself is reported.
 */
export type SecurityEvent = Extract<DeviceReport, { type: "security-event" }>;

const PURPOSE = "bulwark-agent/event";
const spoolDir = (dir: string) => join(dir, "spool");
const optOutFile = (dir: string) => join(dir, "event-logging-off");

/** The user's local choice; the file's presence means "off". */
export function localLoggingEnabled(dir: string): boolean {
  return !existsSync(optOutFile(dir));
}

export function setLocalLogging(dir: string, enabled: boolean): void {
  if (enabled) rmSync(optOutFile(dir), { force: true });
  else writeAtomic(optOutFile(dir), "security-event logging turned off by the device's user\n", 0o600);
}

/** Effective logging: on only if both the user and the policy allow it; says who turned it off. */
export function effectiveLogging(
  dir: string,
  policyAllows: boolean | undefined,
): Extract<DeviceReport, { type: "event-logging" }> {
  if (!localLoggingEnabled(dir)) return { type: "event-logging", enabled: false, source: "device" };
  if (policyAllows === false) return { type: "event-logging", enabled: false, source: "policy" };
  return { type: "event-logging", enabled: true, source: "device" };
}

/** Queues an event for the running agent (sealed under the data key). */
export function spoolEvent(dir: string, kind: SecurityEventKind, detail?: string): void {
  mkdirSync(spoolDir(dir), { recursive: true, mode: 0o700 });
  const event: SecurityEvent = { type: "security-event", kind, at: new Date().toISOString(), detail };
  const name = `${Date.now()}-${randomUUID()}.event`;
  writeAtomic(
    join(spoolDir(dir), name),
    sealJson(event, readDataKey(dir), PURPOSE).toString("base64"),
    0o600,
  );
}

/** Takes up to `limit` spooled events (oldest first), deleting the files; unreadable ones are dropped. */
export function drainSpool(dir: string, dataKey: Buffer, limit = 20): SecurityEvent[] {
  if (!existsSync(spoolDir(dir))) return [];
  const events: SecurityEvent[] = [];
  const names = readdirSync(spoolDir(dir))
    .filter((n) => n.endsWith(".event"))
    .sort()
    .slice(0, limit);
  for (const name of names) {
    const path = join(spoolDir(dir), name);
    try {
      events.push(
        openJson<SecurityEvent>(Buffer.from(readFileSync(path, "utf8"), "base64"), dataKey, PURPOSE),
      );
    } catch {
      // A damaged spool file carries nothing we could send.
    }
    rmSync(path, { force: true });
  }
  return events;
}
