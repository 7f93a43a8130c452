import type { DeviceMetadata } from "@bulwark/sdk/wire/metadata";
import type { Queryable } from "../store/store.ts";

/** Device lifecycle states (issue #5 adds the incident transitions). */
export type DeviceStatus =
  | "pending"
  | "active"
  | "disabled"
  | "quarantined"
  | "compromised"
  | "decommissioned";

export interface Device {
  id: string;
  groupId: string;
  groupName: string;
  status: DeviceStatus;
  enrolledVia: string;
  metadata: DeviceMetadata;
  droppedFields: number;
  online: boolean;
  lastSeenAt: string | null;
  createdAt: string;
}

interface DeviceRow {
  id: string;
  group_id: string;
  group_name: string;
  status: DeviceStatus;
  enrolled_via: string;
  metadata: string;
  dropped_fields: number;
  online: number;
  last_seen_at: number | null;
  created_at: number;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

const toDevice = (row: DeviceRow): Device => ({
  id: row.id,
  groupId: row.group_id,
  groupName: row.group_name,
  status: row.status,
  enrolledVia: row.enrolled_via,
  metadata: JSON.parse(row.metadata) as DeviceMetadata,
  droppedFields: Number(row.dropped_fields),
  online: Number(row.online) === 1,
  lastSeenAt: iso(row.last_seen_at),
  createdAt: iso(row.created_at)!,
});

const SELECT = `SELECT d.*, g.name AS group_name FROM devices d JOIN device_groups g ON g.id = d.group_id`;

export async function insertDevice(
  db: Queryable,
  device: { id: string; groupId: string; enrolledVia: string },
): Promise<void> {
  const now = Date.now();
  await db.run(
    `INSERT INTO devices (id, group_id, status, enrolled_via, metadata, created_at, updated_at) VALUES (?, ?, 'active', ?, '{}', ?, ?)`,
    [device.id, device.groupId, device.enrolledVia, now, now],
  );
}

export async function deviceById(db: Queryable, id: string): Promise<Device | undefined> {
  const row = await db.get<DeviceRow>(`${SELECT} WHERE d.id = ?`, [id]);
  return row && toDevice(row);
}

export interface DeviceQuery {
  limit: number;
  offset: number;
  status?: DeviceStatus;
  group?: string;
  online?: boolean;
}

export async function listDevices(
  db: Queryable,
  query: DeviceQuery,
): Promise<{ items: Device[]; total: number }> {
  const where: string[] = [];
  const params: (string | number)[] = [];
  if (query.status) {
    where.push("d.status = ?");
    params.push(query.status);
  }
  if (query.group) {
    where.push("g.name = ?");
    params.push(query.group);
  }
  if (query.online !== undefined) {
    where.push("d.online = ?");
    params.push(query.online ? 1 : 0);
  }
  const clause = where.length ? ` WHERE ${where.join(" AND ")}` : "";
  const total = await db.get<{ n: number }>(
    `SELECT COUNT(*) AS n FROM devices d JOIN device_groups g ON g.id = d.group_id${clause}`,
    params,
  );
  const rows = await db.all<DeviceRow>(`${SELECT}${clause} ORDER BY d.created_at, d.id LIMIT ? OFFSET ?`, [
    ...params,
    query.limit,
    query.offset,
  ]);
  return { items: rows.map(toDevice), total: Number(total?.n ?? 0) };
}

export async function setPresence(db: Queryable, id: string, online: boolean): Promise<void> {
  await db.run(`UPDATE devices SET online = ?, last_seen_at = ? WHERE id = ?`, [
    online ? 1 : 0,
    Date.now(),
    id,
  ]);
}

export async function recordMetadata(
  db: Queryable,
  id: string,
  metadata: DeviceMetadata,
  dropped: number,
): Promise<void> {
  const now = Date.now();
  await db.run(
    `UPDATE devices SET metadata = ?, dropped_fields = dropped_fields + ?, last_seen_at = ?, updated_at = ? WHERE id = ?`,
    [JSON.stringify(metadata), dropped, now, now, id],
  );
}

/** On start no device is connected to this process yet. */
export async function markAllOffline(db: Queryable): Promise<void> {
  await db.run(`UPDATE devices SET online = 0 WHERE online = 1`);
}
