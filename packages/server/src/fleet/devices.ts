import { randomUUIDv7 } from "node:crypto";
import { DEVICE_STATUSES, type DeviceStatus } from "@bulwark/sdk/wire/device-status";
import type { DeviceMetadata } from "@bulwark/sdk/wire/metadata";
import { chunks } from "../store/placeholders.ts";
import type { Queryable } from "../store/store.ts";

/** Device lifecycle states (in the SDK: the HTTP API and the control bus carry them too). */
export { DEVICE_STATUSES, type DeviceStatus };

/** Whether the device records security events: on, or off by its user or by its policy. */
export type EventLogging = "on" | "off-device" | "off-policy";

export interface Device {
  id: string;
  /** The hardware serial the device was enrolled with, when known. */
  serial: string | null;
  product: string | null;
  groupId: string;
  groupName: string;
  status: DeviceStatus;
  statusReason: string | null;
  statusChangedAt: string | null;
  enrolledVia: string;
  metadata: DeviceMetadata;
  /**
   * The binary delta formats the device's agent applies, as it advertised them (`deltaFormats` of
   * its metadata, kept in their own column); null when its agent advertises none (an older agent).
   */
  deltaFormats: string[] | null;
  droppedFields: number;
  droppedReports: number;
  online: boolean;
  lastSeenAt: string | null;
  createdAt: string;
  /** The policy version the device last acknowledged. */
  config: { policy: string; version: number; acknowledgedAt: string } | null;
  eventLogging: EventLogging;
}

export interface DeviceRow {
  id: string;
  serial: string | null;
  product: string | null;
  group_id: string;
  group_name: string;
  status: DeviceStatus;
  status_reason: string | null;
  status_changed_at: number | null;
  enrolled_via: string;
  metadata: string;
  delta_formats: string | null;
  dropped_fields: number;
  dropped_reports: number;
  online: number;
  last_seen_at: number | null;
  created_at: number;
  config_policy: string | null;
  config_version: number | null;
  config_acked_at: number | null;
  event_logging: EventLogging;
  pending_wipe_id: string | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

const toDevice = (row: DeviceRow): Device => ({
  id: row.id,
  serial: row.serial,
  product: row.product,
  groupId: row.group_id,
  groupName: row.group_name,
  status: row.status,
  statusReason: row.status_reason,
  statusChangedAt: iso(row.status_changed_at),
  enrolledVia: row.enrolled_via,
  metadata: JSON.parse(row.metadata) as DeviceMetadata,
  deltaFormats: row.delta_formats === null ? null : (JSON.parse(row.delta_formats) as string[]),
  droppedFields: Number(row.dropped_fields),
  droppedReports: Number(row.dropped_reports),
  online: Number(row.online) === 1,
  lastSeenAt: iso(row.last_seen_at),
  createdAt: iso(row.created_at)!,
  config:
    row.config_policy === null || row.config_version === null
      ? null
      : {
          policy: row.config_policy,
          version: Number(row.config_version),
          acknowledgedAt: iso(row.config_acked_at)!,
        },
  eventLogging: row.event_logging,
});

const FROM = `FROM devices d JOIN device_groups g ON g.id = d.group_id`;
const SELECT = `SELECT d.*, g.name AS group_name ${FROM}`;

/**
 * A new device id: a UUID version 7 (RFC 9562 §5.7), 48 bits of Unix milliseconds then 74 random
 * bits. Ids made later sort later, so the registry's indexes on device ids (devices, certificates,
 * presence) take a new device at their right-hand edge instead of on a random page; the id is in
 * the device's certificates, whose notBefore already tells when it enrolled.
 */
export const newDeviceId = (): string => randomUUIDv7();

export async function insertDevice(
  db: Queryable,
  device: { id: string; groupId: string; enrolledVia: string; serial?: string | null },
): Promise<void> {
  const now = Date.now();
  await db.run(
    `INSERT INTO devices (id, serial, group_id, status, enrolled_via, metadata, created_at, updated_at, status_changed_at)
     VALUES (?, ?, ?, 'active', ?, '{}', ?, ?, ?)`,
    [device.id, device.serial ?? null, device.groupId, device.enrolledVia, now, now, now],
  );
}

export async function deviceRowById(db: Queryable, id: string): Promise<DeviceRow | undefined> {
  return db.get<DeviceRow>(`${SELECT} WHERE d.id = ?`, [id]);
}

export async function deviceById(db: Queryable, id: string): Promise<Device | undefined> {
  const row = await deviceRowById(db, id);
  return row && toDevice(row);
}

/** Sort keys the API accepts, each mapped to a fixed column (never interpolated from input). */
export const SORT_KEYS = {
  createdAt: "d.created_at",
  lastSeenAt: "d.last_seen_at",
  status: "d.status",
  group: "g.name",
  id: "d.id",
  serial: "d.serial",
  product: "d.product",
} as const;
export type SortKey = keyof typeof SORT_KEYS;

export const SORT_PATTERN = `^-?(${Object.keys(SORT_KEYS).join("|")})$`;

export interface DeviceQuery {
  limit: number;
  offset: number;
  status?: DeviceStatus;
  group?: string;
  online?: boolean;
  product?: string;
  serial?: string;
  /** A sort key, `-` in front for descending. */
  sort?: string;
}

function orderBy(sort: string | undefined): string {
  const descending = sort?.startsWith("-") ?? false;
  const key = (descending ? sort!.slice(1) : (sort ?? "createdAt")) as SortKey;
  const column = SORT_KEYS[key];
  if (!column) throw new Error(`unknown sort key ${key}`);
  const direction = descending ? "DESC" : "ASC";
  // NULLs last in both directions on SQLite and PostgreSQL alike; id breaks ties for stable pages.
  return ` ORDER BY (${column} IS NULL), ${column} ${direction}, d.id ${direction}`;
}

export async function listDevices(
  db: Queryable,
  query: DeviceQuery,
): Promise<{ items: Device[]; total: number }> {
  const where: string[] = [];
  const params: (string | number)[] = [];
  const filter = (sql: string, value: string | number) => {
    where.push(sql);
    params.push(value);
  };
  if (query.status) filter("d.status = ?", query.status);
  if (query.group) filter("g.name = ?", query.group);
  if (query.online !== undefined) filter("d.online = ?", query.online ? 1 : 0);
  if (query.product) filter("d.product = ?", query.product);
  if (query.serial) filter("d.serial = ?", query.serial);
  const clause = where.length ? ` WHERE ${where.join(" AND ")}` : "";
  const total = await db.get<{ n: number }>(`SELECT COUNT(*) AS n ${FROM}${clause}`, params);
  const rows = await db.all<DeviceRow>(`${SELECT}${clause}${orderBy(query.sort)} LIMIT ? OFFSET ?`, [
    ...params,
    query.limit,
    query.offset,
  ]);
  return { items: rows.map(toDevice), total: Number(total?.n ?? 0) };
}

/** One device's presence change, as `PresenceWriter` coalesces them. */
export interface PresenceChange {
  deviceId: string;
  online: boolean;
  /** When it happened (epoch ms), kept as the device's `last_seen_at`. */
  at: number;
}

/**
 * Presence as seen by the server process `instance`, for many devices in one statement per chunk
 * and kind (one round trip on PostgreSQL instead of one a device). Online records which process
 * holds the session; offline only clears a device this process holds (or nobody does), so the late
 * close of a session on one process never overwrites the newer session the device opened on
 * another. `UPDATE … FROM (VALUES …)` runs on SQLite (3.33+) and PostgreSQL alike: both name the
 * VALUES columns `column1`, `column2`; the time is cast since PostgreSQL types those parameters text.
 */
export async function setPresences(
  db: Queryable,
  changes: readonly PresenceChange[],
  instance: string,
): Promise<void> {
  const values = (batch: readonly PresenceChange[]) => ({
    list: batch.map(() => "(?, ?)").join(", "),
    params: batch.flatMap((c) => [c.deviceId, c.at]),
  });
  for (const batch of chunks(changes.filter((c) => c.online))) {
    const { list, params } = values(batch);
    await db.run(
      `UPDATE devices SET online = 1, connected_to = ?, last_seen_at = CAST(v.column2 AS BIGINT)
       FROM (VALUES ${list}) AS v WHERE devices.id = v.column1`,
      [instance, ...params],
    );
  }
  for (const batch of chunks(changes.filter((c) => !c.online))) {
    const { list, params } = values(batch);
    await db.run(
      `UPDATE devices SET online = 0, connected_to = NULL, last_seen_at = CAST(v.column2 AS BIGINT)
       FROM (VALUES ${list}) AS v
       WHERE devices.id = v.column1 AND (devices.connected_to = ? OR devices.connected_to IS NULL)`,
      [...params, instance],
    );
  }
}

export async function recordMetadata(
  db: Queryable,
  id: string,
  metadata: DeviceMetadata,
  dropped: number,
): Promise<void> {
  const now = Date.now();
  // The delta formats go to their own column (the rollout reads them); a report without them (an
  // older agent, or one downgraded) clears them: such an agent is taken to know zstd-dict only.
  const { deltaFormats, ...rest } = metadata;
  await db.run(
    `UPDATE devices SET metadata = ?, delta_formats = ?, dropped_fields = dropped_fields + ?, last_seen_at = ?, updated_at = ?
     WHERE id = ?`,
    [JSON.stringify(rest), deltaFormats ? JSON.stringify(deltaFormats) : null, dropped, now, now, id],
  );
}

/** Counts a device report (events topic) that was not valid and so was dropped. */
export async function countDroppedReport(db: Queryable, id: string): Promise<void> {
  await db.run(`UPDATE devices SET dropped_reports = dropped_reports + 1 WHERE id = ?`, [id]);
}

/** Records the policy version a device acknowledged. */
export async function recordConfigAck(
  db: Queryable,
  id: string,
  ack: { policy: string; version: number },
): Promise<void> {
  await db.run(`UPDATE devices SET config_policy = ?, config_version = ?, config_acked_at = ? WHERE id = ?`, [
    ack.policy,
    ack.version,
    Date.now(),
    id,
  ]);
}

export async function setProduct(db: Queryable, id: string, product: string | null): Promise<void> {
  await db.run(`UPDATE devices SET product = ?, updated_at = ? WHERE id = ?`, [product, Date.now(), id]);
}

/** Inventory fields an operator keeps; false when there is no such device. */
export async function setInventory(
  db: Queryable,
  id: string,
  fields: { serial?: string | null; product?: string | null },
): Promise<boolean> {
  if (!(await db.get<{ id: string }>(`SELECT id FROM devices WHERE id = ?`, [id]))) return false;
  for (const [field, value] of Object.entries(fields))
    await db.run(`UPDATE devices SET ${field === "serial" ? "serial" : "product"} = ? WHERE id = ?`, [
      value ?? null,
      id,
    ]);
  return true;
}

/** On start no device is connected to this process yet. */
export async function markAllOffline(db: Queryable): Promise<void> {
  await db.run(`UPDATE devices SET online = 0, connected_to = NULL WHERE online = 1`);
}

/** The certificates of a device, newest first (status and revocation as the PKI records them). */
export async function deviceCertificates(db: Queryable, id: string) {
  const rows = await db.all<{
    serial: string;
    fingerprint: string;
    not_before: number;
    not_after: number;
    status: string;
    revoked_at: number | null;
    revocation_reason: string | null;
  }>(
    `SELECT serial, fingerprint, not_before, not_after, status, revoked_at, revocation_reason
     FROM certificates WHERE device_id = ? ORDER BY created_at DESC`,
    [id],
  );
  return rows.map((r) => ({
    serial: r.serial,
    fingerprint: r.fingerprint,
    notBefore: iso(r.not_before),
    notAfter: iso(r.not_after),
    status: r.status,
    revokedAt: iso(r.revoked_at),
    revocationReason: r.revocation_reason,
  }));
}
