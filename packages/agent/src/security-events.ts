import { existsSync, type FSWatcher, rmSync, watch } from "node:fs";
import { join } from "node:path";
import { type EncryptedStore, StoreTamperError } from "@bulwark/sdk/store";
import type { DeviceReport, SecurityEventKind } from "@bulwark/sdk/wire/reports";
import { writeAtomic } from "./state.ts";

/**
 * Device security events (CRA Annex I Part I (2)(l)). Local components (a PAM hook, the update
 * installer) hand events to the agent through the encrypted store's queue (`bulwark-agent report-event`);
 * the agent sends them on its `events` topic — unless the device's user opted out
 * (`bulwark-agent event-logging off`) or its policy turns logging off: then nothing is sent,
 * the spool is discarded, and only the opt-out itself is reported.
 */
export type SecurityEvent = Extract<DeviceReport, { type: "security-event" }>;

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

/** At most this many events wait on the device while it is offline; beyond it the oldest go (and are counted). */
export const MAX_QUEUED_EVENTS = 1000;
const DROPPED = "queue-dropped";

/** Queues an event for the running agent in the encrypted store's queue; returns its queue id. */
export function spoolEvent(
  store: EncryptedStore,
  kind: SecurityEventKind,
  detail?: string,
  bound = MAX_QUEUED_EVENTS,
): string {
  return queueEvent(store, { type: "security-event", kind, at: new Date().toISOString(), detail }, bound);
}

/**
 * Queues an event already made (the agent's own: a tampered store record, a refused configuration
 * or command, a configuration change). The queue entry's id becomes the event's id when it is sent,
 * so each re-send of it is the same event to the server (MQTT 3.1.1 §4.3.2, migration 960).
 */
export function queueEvent(store: EncryptedStore, event: SecurityEvent, bound = MAX_QUEUED_EVENTS): string {
  const id = store.enqueue(Buffer.from(JSON.stringify(event), "utf8"));
  const ids = store.list("queue");
  if (ids.length > bound) {
    const excess = ids.slice(0, ids.length - bound);
    for (const old of excess) store.ack(old);
    const dropped = store.getJson<{ count: number }>("state", DROPPED)?.count ?? 0;
    store.putJson("state", DROPPED, { count: dropped + excess.length });
  }
  return id;
}

export interface QueuedEvent {
  id: string;
  event: SecurityEvent;
}

/**
 * Up to `limit` queued events, oldest first. They stay queued until `store.ack(id)` (after the
 * broker acknowledged them), so an event is not lost to a connection that drops mid-send. An entry
 * that is not an event is acknowledged away; a tampered one is reported by the store (its
 * onSecurityEvent) and dropped.
 */
export function peekEvents(store: EncryptedStore, limit = 20): QueuedEvent[] {
  const out: QueuedEvent[] = [];
  for (const id of store.list("queue").slice(0, limit)) {
    try {
      const value = store.get("queue", id);
      if (value) out.push({ id, event: JSON.parse(value.toString("utf8")) as SecurityEvent });
    } catch (error) {
      if (!(error instanceof StoreTamperError) && !(error instanceof SyntaxError)) throw error;
      store.ack(id);
    }
  }
  return out;
}

/** How many events the bound pushed out since the last call (the count is reset). */
export function takeDroppedCount(store: EncryptedStore): number {
  const count = store.getJson<{ count: number }>("state", DROPPED)?.count ?? 0;
  if (count > 0) store.delete("state", DROPPED);
  return count;
}

/**
 * Turns the count of events the bound pushed out into one queued integrity-failure event, so the
 * notice itself is kept until its PUBACK like any other event. The notice is queued before the count
 * is reset: a crash in between sends the notice twice (two ids), never not at all. It is queued
 * past the bound (one entry), so it pushes nothing out. Returns the count (0: nothing queued).
 */
export function queueDroppedNotice(store: EncryptedStore): number {
  const count = store.getJson<{ count: number }>("state", DROPPED)?.count ?? 0;
  if (count === 0) return 0;
  const notice: SecurityEvent = {
    type: "security-event",
    kind: "integrity-failure",
    at: new Date().toISOString(),
    detail: `${count} security events dropped while offline (the device queues at most ${MAX_QUEUED_EVENTS})`,
  };
  store.enqueue(Buffer.from(JSON.stringify(notice), "utf8"));
  store.delete("state", DROPPED);
  return count;
}

/**
 * Calls `onChange` when an event is queued (`store/queue`) or the user's opt-out changes (the
 * state directory): inotify on Linux, so an idle agent spends no CPU looking. Bursts are coalesced.
 */
export function watchEvents(dir: string, onChange: () => void): { close(): void } {
  let timer: NodeJS.Timeout | undefined;
  const fire = () => {
    clearTimeout(timer);
    timer = setTimeout(onChange, 20);
  };
  const watchers: FSWatcher[] = [];
  for (const path of [dir, join(dir, "store", "queue")]) {
    try {
      watchers.push(watch(path, { persistent: false }, fire));
    } catch {
      // No such directory yet or no watch support: the periodic check still finds the change.
    }
  }
  return {
    close() {
      clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}
