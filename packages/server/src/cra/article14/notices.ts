import { randomUUID } from "node:crypto";
import { BulwarkError } from "@bulwark/sdk/errors";
import {
  isNoticeText,
  MAX_NOTICE_ACTION,
  MAX_NOTICE_TEXT,
  MAX_NOTICE_TITLE,
  type NoticeHookOutcome,
  type NoticeSeverity,
  type UserNoticeCommand,
} from "@bulwark/sdk/wire/user-notice";
import type { CustodySigner } from "../../custody/key-custody.ts";
import type { Queryable } from "../../store/store.ts";
import { appendAwareness } from "./awareness-log.ts";
import type { ReportableEvent } from "./events.ts";
import {
  advisoryUrlsOf,
  affectedVersionsOf,
  correctiveMeasureOf,
  noticeText,
  productDevices,
} from "./user-notice.ts";

/**
 * CRA Art. 14(8) notices as sent: the notice (what every device gets) and one delivery per device
 * running an affected version, with its state: `pending` (the device was offline; it gets the
 * notice when it reconnects), `sent` (published to it, not yet acknowledged), `acknowledged`.
 */
export type DeliveryState = "pending" | "sent" | "acknowledged";

export interface UserNotice {
  id: string;
  eventId: string;
  productId: string;
  severity: NoticeSeverity;
  title: string;
  text: string;
  action: string;
  advisoryUrls: string[];
  versions: string[];
  createdBy: string;
  createdAt: number;
  deliveries: Record<DeliveryState, number>;
}

export interface NoticeDelivery {
  deviceId: string;
  version: string | null;
  state: DeliveryState;
  attempts: number;
  sentAt: number | null;
  acknowledgedAt: number | null;
  hook: NoticeHookOutcome | null;
}

interface NoticeRow {
  id: string;
  event_id: string;
  product_id: string;
  severity: NoticeSeverity;
  title: string;
  text: string;
  action: string;
  advisory_urls: string;
  versions: string;
  created_by: string;
  created_at: number;
}

const NOTICE_COLUMNS = `id, event_id, product_id, severity, title, text, action, advisory_urls, versions, created_by, created_at`;

async function toNotice(db: Queryable, r: NoticeRow): Promise<UserNotice> {
  const counts = await db.all<{ state: DeliveryState; n: number }>(
    `SELECT state, COUNT(*) AS n FROM cra_user_notice_deliveries WHERE notice_id = ? GROUP BY state`,
    [r.id],
  );
  const deliveries: Record<DeliveryState, number> = { pending: 0, sent: 0, acknowledged: 0 };
  for (const c of counts) deliveries[c.state] = Number(c.n);
  return {
    id: r.id,
    eventId: r.event_id,
    productId: r.product_id,
    severity: r.severity,
    title: r.title,
    text: r.text,
    action: r.action,
    advisoryUrls: JSON.parse(r.advisory_urls) as string[],
    versions: JSON.parse(r.versions) as string[],
    createdBy: r.created_by,
    createdAt: Number(r.created_at),
    deliveries,
  };
}

export async function noticeById(db: Queryable, id: string): Promise<UserNotice | undefined> {
  const row = await db.get<NoticeRow>(`SELECT ${NOTICE_COLUMNS} FROM cra_user_notices WHERE id = ?`, [id]);
  return row && toNotice(db, row);
}

export async function noticesOf(db: Queryable, eventId: string): Promise<UserNotice[]> {
  const rows = await db.all<NoticeRow>(
    `SELECT ${NOTICE_COLUMNS} FROM cra_user_notices WHERE event_id = ? ORDER BY created_at, id`,
    [eventId],
  );
  const out: UserNotice[] = [];
  for (const r of rows) out.push(await toNotice(db, r));
  return out;
}

export async function deliveriesOf(db: Queryable, noticeId: string): Promise<NoticeDelivery[]> {
  const rows = await db.all<{
    device_id: string;
    version: string | null;
    state: DeliveryState;
    attempts: number;
    sent_at: number | null;
    acknowledged_at: number | null;
    hook: NoticeHookOutcome | null;
  }>(
    `SELECT device_id, version, state, attempts, sent_at, acknowledged_at, hook
     FROM cra_user_notice_deliveries WHERE notice_id = ? ORDER BY device_id`,
    [noticeId],
  );
  return rows.map((r) => ({
    deviceId: r.device_id,
    version: r.version,
    state: r.state,
    attempts: Number(r.attempts),
    sentAt: r.sent_at === null ? null : Number(r.sent_at),
    acknowledgedAt: r.acknowledged_at === null ? null : Number(r.acknowledged_at),
    hook: r.hook,
  }));
}

export interface NoticeInput {
  severity: NoticeSeverity;
  /** What the user should do; default: the event's corrective measure. */
  action?: string;
  /** The notice's text; default: the event's title, summary, measure and advisories. */
  text?: string;
  /** The affected versions; default: the versions of the event's findings. */
  versions?: string[];
}

const oneLine = (s: string) => s.replace(/[\t\r]+/g, " ");

/**
 * CRA Art. 14(8): records the notice and a `pending` delivery for every device of the product that
 * reported an affected version, and appends it to the awareness log (one transaction). Refuses a
 * candidate or dismissed event (not established), and a notice no device would get.
 */
export async function createNotice(
  tx: Queryable,
  signer: CustodySigner,
  event: ReportableEvent,
  input: NoticeInput,
  ctx: { publicUrl: string; by: string },
): Promise<UserNotice> {
  if (event.status !== "confirmed" && event.status !== "closed")
    throw new BulwarkError(
      "BW_ERR_CONFLICT",
      `the event is ${event.status}: confirm it before users are notified`,
    );
  const versions = input.versions?.length
    ? [...new Set(input.versions)].sort()
    : await affectedVersionsOf(tx, event);
  if (versions.length === 0)
    throw new BulwarkError(
      "BW_ERR_VALIDATION",
      "the event has no affected version from its findings: name the affected versions",
    );
  const devices = (await productDevices(tx, event.productId)).filter(
    (d) => d.version !== null && versions.includes(d.version),
  );
  if (devices.length === 0)
    throw new BulwarkError(
      "BW_ERR_CONFLICT",
      `no device of the product reports an affected version (${versions.join(", ")})`,
    );
  const advisoryUrls = (await advisoryUrlsOf(tx, event, ctx.publicUrl)).slice(0, 10);
  const measure = correctiveMeasureOf(event);
  const action = oneLine(input.action ?? measure ?? "");
  if (!action)
    throw new BulwarkError(
      "BW_ERR_VALIDATION",
      "say what users should do (action), or record the corrective measure first",
    );
  const text = oneLine(input.text ?? noticeText(event, measure, advisoryUrls));
  const title = oneLine(event.title);
  // The device refuses what it cannot show safely: check here with the same rules (wire/user-notice.ts).
  for (const [name, value, max] of [
    ["title", title, MAX_NOTICE_TITLE],
    ["text", text, MAX_NOTICE_TEXT],
    ["action", action, MAX_NOTICE_ACTION],
  ] as const)
    if (!isNoticeText(value as unknown, max))
      throw new BulwarkError(
        "BW_ERR_VALIDATION",
        `the notice's ${name} must be 1–${max} characters without control characters (it is ${value.length})`,
      );
  const id = randomUUID();
  const now = Date.now();
  await tx.run(`INSERT INTO cra_user_notices (${NOTICE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, [
    id,
    event.id,
    event.productId,
    input.severity,
    title,
    text,
    action,
    JSON.stringify(advisoryUrls),
    JSON.stringify(versions),
    ctx.by,
    now,
  ]);
  for (const d of devices)
    await tx.run(
      `INSERT INTO cra_user_notice_deliveries (notice_id, device_id, version, state, attempts) VALUES (?, ?, ?, 'pending', 0)`,
      [id, d.id, d.version],
    );
  await appendAwareness(tx, signer, {
    eventId: event.id,
    at: now,
    kind: "user-notice",
    trigger: "operator",
    details: { notice: id, severity: input.severity, versions, devices: devices.length, by: ctx.by },
  });
  return (await noticeById(tx, id))!;
}

/** The command one device gets for a notice (sealed by the caller). */
export function noticeCommand(
  notice: UserNotice,
  event: Pick<ReportableEvent, "kind" | "vulnerability">,
  deviceId: string,
  version: string | null,
): UserNoticeCommand {
  return {
    type: "user-notice",
    deviceId,
    noticeId: notice.id,
    eventId: notice.eventId,
    kind: event.kind,
    vulnerability: event.vulnerability,
    title: notice.title,
    text: notice.text,
    severity: notice.severity,
    action: notice.action,
    advisoryUrls: notice.advisoryUrls,
    affectedVersion: version,
    issuedAt: Date.now(),
  };
}

/** The unacknowledged deliveries: of a notice, or of a device (re-sent when it reconnects). */
export async function openDeliveries(
  db: Queryable,
  by: { noticeId: string } | { deviceId: string },
): Promise<{ noticeId: string; deviceId: string; version: string | null }[]> {
  const [column, value] = "noticeId" in by ? ["notice_id", by.noticeId] : ["device_id", by.deviceId];
  const rows = await db.all<{ notice_id: string; device_id: string; version: string | null }>(
    `SELECT notice_id, device_id, version FROM cra_user_notice_deliveries
     WHERE ${column} = ? AND state <> 'acknowledged' ORDER BY notice_id, device_id`,
    [value],
  );
  return rows.map((r) => ({ noticeId: r.notice_id, deviceId: r.device_id, version: r.version }));
}

/** Published: `sent` if the device was connected, else it stays `pending` (its reconnect sends it). */
export async function markPublished(
  db: Queryable,
  noticeId: string,
  deviceId: string,
  online: boolean,
): Promise<void> {
  await db.run(
    `UPDATE cra_user_notice_deliveries SET attempts = attempts + 1,
       state = CASE WHEN state = 'acknowledged' THEN state WHEN ? = 1 THEN 'sent' ELSE state END,
       sent_at = CASE WHEN ? = 1 THEN ? ELSE sent_at END
     WHERE notice_id = ? AND device_id = ?`,
    [online ? 1 : 0, online ? 1 : 0, Date.now(), noticeId, deviceId],
  );
}

/**
 * The device acknowledged: `acknowledged` with what it did (its hook). Returns false when the device
 * has no delivery of that notice; true (and changes nothing) when it was acknowledged already.
 */
export async function acknowledge(
  tx: Queryable,
  deviceId: string,
  noticeId: string,
  hook: NoticeHookOutcome,
): Promise<"recorded" | "again" | "unknown"> {
  const row = await tx.get<{ state: DeliveryState }>(
    `SELECT state FROM cra_user_notice_deliveries WHERE notice_id = ? AND device_id = ?`,
    [noticeId, deviceId],
  );
  if (!row) return "unknown";
  if (row.state === "acknowledged") return "again";
  // A repeat (its PUBACK was lost, MQTT 3.1.1 §4.3.2) handled at the same time as the first on
  // another connection records nothing: only the update that moves the row counts.
  const moved = await tx.run(
    `UPDATE cra_user_notice_deliveries SET state = 'acknowledged', acknowledged_at = ?, hook = ?
     WHERE notice_id = ? AND device_id = ? AND state <> 'acknowledged'`,
    [Date.now(), hook, noticeId, deviceId],
  );
  return moved.changes === 1 ? "recorded" : "again";
}
