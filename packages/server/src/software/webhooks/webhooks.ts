import { randomBytes, randomUUID } from "node:crypto";
import { BulwarkError } from "@bulwark/sdk/errors";
import type { Queryable, SqlValue } from "../../store/store.ts";
import { insertMany } from "../sql.ts";
import {
  checkWebhookDestination,
  checkWebhookScheme,
  STRICT_WEBHOOKS,
  type WebhookPolicy,
} from "./destination.ts";
import { sealSecret } from "./secret.ts";

/** The software domain's own events; other domains register theirs (`events.ts`, `WebhookEventRegistry`). */
export const WEBHOOK_EVENTS = [
  "finding.new",
  "finding.known-exploited",
  "finding.known-exploited-removed",
] as const;
/** An event name: one of `WEBHOOK_EVENTS` or one registered in the `WebhookEventRegistry`. */
export type WebhookEvent = string;

export interface Webhook {
  id: string;
  url: string;
  events: WebhookEvent[];
  active: boolean;
  createdAt: number;
}

export type DeliveryStatus = "pending" | "delivered" | "failed";

export interface Delivery {
  id: string;
  webhookId: string;
  eventType: WebhookEvent;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: number;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: number;
  deliveredAt: number | null;
}

/**
 * Only absolute https URLs without credentials (the secret is the credential), not local; plain
 * http and local destinations only when the operator allowed them.
 */
function checkUrl(text: string, policy: WebhookPolicy): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new BulwarkError("BW_ERR_VALIDATION", "the webhook URL is not a URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw new BulwarkError("BW_ERR_VALIDATION", "webhook URLs are http or https");
  if (url.username || url.password)
    throw new BulwarkError("BW_ERR_VALIDATION", "webhook URLs carry no credentials");
  checkWebhookDestination(url, policy.allowLocal);
  checkWebhookScheme(url, policy.allowHttp);
  return url.href;
}

/**
 * Registers a webhook; the secret is returned once and stored sealed. Without `events` it subscribes
 * to every event `known` now (the registry's list; the software events by default).
 */
export async function createWebhook(
  db: Queryable,
  masterKey: Buffer,
  input: { url: string; events?: WebhookEvent[] },
  policy: WebhookPolicy = STRICT_WEBHOOKS,
  known: readonly WebhookEvent[] = WEBHOOK_EVENTS,
): Promise<{ webhook: Webhook; secret: string }> {
  const unknown = (input.events ?? []).filter((e) => !known.includes(e));
  if (unknown.length > 0)
    throw new BulwarkError("BW_ERR_VALIDATION", `unknown webhook events: ${unknown.join(", ")}`);
  const id = randomUUID();
  const secret = `bwhs_${randomBytes(32).toString("base64url")}`;
  const webhook: Webhook = {
    id,
    url: checkUrl(input.url, policy),
    events: input.events?.length ? [...new Set(input.events)] : [...known],
    active: true,
    createdAt: Date.now(),
  };
  await db.run(
    `INSERT INTO webhooks (id, url, secret_sealed, events, active, created_at) VALUES (?, ?, ?, ?, 1, ?)`,
    [id, webhook.url, sealSecret(masterKey, id, secret), JSON.stringify(webhook.events), webhook.createdAt],
  );
  return { webhook, secret };
}

interface WebhookRow {
  id: string;
  url: string;
  events: string;
  active: number;
  created_at: number;
}

const toWebhook = (r: WebhookRow): Webhook => ({
  id: r.id,
  url: r.url,
  events: JSON.parse(r.events) as WebhookEvent[],
  active: Number(r.active) === 1,
  createdAt: Number(r.created_at),
});

export async function listWebhooks(db: Queryable): Promise<Webhook[]> {
  return (
    await db.all<WebhookRow>(`SELECT id, url, events, active, created_at FROM webhooks ORDER BY created_at`)
  ).map(toWebhook);
}

/** Queues one delivery per active subscribed webhook (the outbox, written in the event's transaction). */
export async function enqueueEvents(
  tx: Queryable,
  events: readonly { type: WebhookEvent; payload: () => unknown }[],
  now = Date.now(),
): Promise<number> {
  if (events.length === 0) return 0;
  const hooks = (await listWebhooks(tx)).filter((h) => h.active);
  if (hooks.length === 0) return 0;
  const rows: SqlValue[][] = [];
  for (const e of events) {
    for (const h of hooks) {
      if (!h.events.includes(e.type)) continue;
      const id = randomUUID();
      const body = JSON.stringify({
        id,
        type: e.type,
        occurredAt: new Date(now).toISOString(),
        data: e.payload(),
      });
      rows.push([id, h.id, e.type, body, "pending", 0, now, now]);
    }
  }
  await insertMany(
    tx,
    "webhook_deliveries",
    ["id", "webhook_id", "event_type", "payload", "status", "attempts", "next_attempt_at", "created_at"],
    rows,
  );
  return rows.length;
}

interface DeliveryRow {
  id: string;
  webhook_id: string;
  event_type: WebhookEvent;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: number;
  last_status: number | null;
  last_error: string | null;
  created_at: number;
  delivered_at: number | null;
}

export async function listDeliveries(db: Queryable, webhookId: string, limit = 100): Promise<Delivery[]> {
  const rows = await db.all<DeliveryRow>(
    `SELECT id, webhook_id, event_type, status, attempts, next_attempt_at, last_status, last_error, created_at,
      delivered_at FROM webhook_deliveries WHERE webhook_id = ? ORDER BY created_at DESC, id LIMIT ?`,
    [webhookId, limit],
  );
  return rows.map((r) => ({
    id: r.id,
    webhookId: r.webhook_id,
    eventType: r.event_type,
    status: r.status,
    attempts: Number(r.attempts),
    nextAttemptAt: Number(r.next_attempt_at),
    lastStatus: r.last_status === null ? null : Number(r.last_status),
    lastError: r.last_error,
    createdAt: Number(r.created_at),
    deliveredAt: r.delivered_at === null ? null : Number(r.delivered_at),
  }));
}
