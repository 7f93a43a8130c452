import { randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import type { Queryable, Store } from "../store/store.ts";

/**
 * Reports of failed and suspicious access for the people who run the platform (CRA Annex I
 * Part I (2)(d): "reporting on possible unauthorised access"). Stored here; delivery by webhook
 * comes with the notification sender.
 */
export type NotificationKind =
  | "account-locked"
  | "rate-limited"
  | "sign-in-refused"
  | "oidc-refused"
  | "audit-chain-broken"
  // Issue #16: an Article 14 reporting deadline is near or passed (cra/article14/watcher.ts).
  | "cra-report-deadline";

export interface Notification {
  id: string;
  at: string;
  kind: NotificationKind;
  severity: "info" | "warning" | "critical";
  message: string;
  details: Record<string, unknown>;
}

export async function notify(db: Queryable, notification: Omit<Notification, "id" | "at">): Promise<void> {
  await db.run(
    `INSERT INTO notifications (id, at, kind, severity, message, details) VALUES (?, ?, ?, ?, ?, ?)`,
    [
      randomUUID(),
      Date.now(),
      notification.kind,
      notification.severity,
      notification.message,
      JSON.stringify(notification.details),
    ],
  );
}

export async function listNotifications(db: Queryable, limit: number): Promise<Notification[]> {
  const rows = await db.all<{
    id: string;
    at: number;
    kind: NotificationKind;
    severity: Notification["severity"];
    message: string;
    details: string;
  }>(`SELECT * FROM notifications ORDER BY at DESC, id LIMIT ?`, [limit]);
  return rows.map((r) => ({
    ...r,
    at: new Date(Number(r.at)).toISOString(),
    details: JSON.parse(r.details),
  }));
}

export function notificationRoutes(store: Store) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get<{ Querystring: { limit?: number } }>(
      "/api/v1/notifications",
      {
        config: { auth: { permission: "notifications:read" } },
        schema: {
          querystring: {
            type: "object",
            additionalProperties: false,
            properties: { limit: { type: "integer", minimum: 1, maximum: 1000 } },
          },
        },
      },
      async (request) => ({ items: await listNotifications(store, request.query.limit ?? 100) }),
    );
  };
}
