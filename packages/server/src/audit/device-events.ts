import { randomUUID } from "node:crypto";
import type { SecurityEventKind } from "@bulwark/sdk/wire/reports";
import type { Queryable } from "../store/store.ts";

/**
 * Device security events (CRA Annex I Part I (2)(l)): failed local logins, integrity failures,
 * update verification failures, configuration changes, as devices report them, plus the record of
 * a device's logging being turned off or on. Stored apart from the hash-chained audit log: they are
 * device observations, high in volume, and deleted with the device at decommissioning.
 */
export type StoredEventKind = SecurityEventKind | "logging-opted-out" | "logging-opted-in";

export interface DeviceSecurityEvent {
  id: string;
  deviceId: string;
  kind: StoredEventKind;
  occurredAt: string;
  receivedAt: string;
  detail: string | null;
}

interface EventRow {
  id: string;
  device_id: string;
  kind: StoredEventKind;
  occurred_at: number;
  received_at: number;
  detail: string | null;
}

const toEvent = (r: EventRow): DeviceSecurityEvent => ({
  id: r.id,
  deviceId: r.device_id,
  kind: r.kind,
  occurredAt: new Date(Number(r.occurred_at)).toISOString(),
  receivedAt: new Date(Number(r.received_at)).toISOString(),
  detail: r.detail,
});

// A device clock may be wrong: keep its time, but never more than a day ahead of ours.
const MAX_FUTURE_MS = 24 * 3600 * 1000;

/**
 * Stores an event; false when the device already sent one with the same `deviceEventId` (a QoS 1
 * re-send after a lost PUBACK, MQTT 3.1.1 / 5 §4.3.2: kept once, by the unique index of migration
 * 960). Events without an id (agents before it, and the server's own) are always stored.
 */
export async function recordSecurityEvent(
  db: Queryable,
  event: {
    deviceId: string;
    kind: StoredEventKind;
    occurredAt: number;
    detail?: string | null;
    deviceEventId?: string;
  },
): Promise<boolean> {
  const now = Date.now();
  const result = await db.run(
    `INSERT INTO device_security_events (id, device_id, kind, occurred_at, received_at, detail, device_event_id)
     VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device_id, device_event_id) DO NOTHING`,
    [
      randomUUID(),
      event.deviceId,
      event.kind,
      Math.min(event.occurredAt, now + MAX_FUTURE_MS),
      now,
      event.detail ?? null,
      event.deviceEventId ?? null,
    ],
  );
  return result.changes === 1;
}

export interface SecurityEventQuery {
  deviceId?: string;
  kind?: StoredEventKind;
  /** Epoch ms, inclusive. */
  since?: number;
  limit: number;
  offset: number;
}

export async function listSecurityEvents(
  db: Queryable,
  query: SecurityEventQuery,
): Promise<{ items: DeviceSecurityEvent[]; total: number }> {
  const where: string[] = [];
  const params: (string | number)[] = [];
  if (query.deviceId) {
    where.push("device_id = ?");
    params.push(query.deviceId);
  }
  if (query.kind) {
    where.push("kind = ?");
    params.push(query.kind);
  }
  if (query.since !== undefined) {
    where.push("received_at >= ?");
    params.push(query.since);
  }
  const clause = where.length ? ` WHERE ${where.join(" AND ")}` : "";
  const total = await db.get<{ n: number }>(
    `SELECT COUNT(*) AS n FROM device_security_events${clause}`,
    params,
  );
  const rows = await db.all<EventRow>(
    `SELECT * FROM device_security_events${clause} ORDER BY received_at DESC, id LIMIT ? OFFSET ?`,
    [...params, query.limit, query.offset],
  );
  return { items: rows.map(toEvent), total: Number(total?.n ?? 0) };
}
