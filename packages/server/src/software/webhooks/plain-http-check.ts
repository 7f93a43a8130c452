import type { Queryable } from "../../store/store.ts";

/** The most webhook ids the start-up warning names (the count is always whole). */
const LISTED_IDS = 20;

/**
 * At start-up without `--webhook-allow-http`: one warning naming the stored webhooks whose URL is
 * plain `http://` (registered while it was allowed), since the dispatcher will not deliver to them.
 * Nothing when plain http is allowed or none is stored. Returns how many there are.
 */
export async function warnPlainHttpWebhooks(
  db: Queryable,
  allowHttp: boolean,
  log: { warn(details: object, message: string): void },
): Promise<number> {
  if (allowHttp) return 0;
  // Stored URLs are WHATWG-serialised (`url.href`): the scheme is lower case.
  const counted = await db.get<{ n: number | string }>(
    `SELECT COUNT(*) AS n FROM webhooks WHERE url LIKE 'http://%'`,
  );
  const count = Number(counted?.n ?? 0);
  if (count === 0) return 0;
  const rows = await db.all<{ id: string }>(
    `SELECT id FROM webhooks WHERE url LIKE 'http://%' ORDER BY created_at, id LIMIT ${LISTED_IDS}`,
  );
  log.warn(
    { count, webhookIds: rows.map((r) => r.id) },
    `${count} stored webhook(s) use plain http:// and will not be delivered (start with --webhook-allow-http, or re-register them with https)`,
  );
  return count;
}
