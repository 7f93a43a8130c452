import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import { webhookSignature } from "@bulwark/sdk/signing/webhook";
import type { Logger } from "pino";
import type { Store } from "../../store/store.ts";
import { guardedLookup, refusedLiteral, refusedScheme } from "./destination.ts";
import { openSecret } from "./secret.ts";

/** When the next due delivery could not be looked up, the next pass comes after this long. */
const SCHEDULE_RETRY_MS = 30_000;

export interface DispatcherOptions {
  store: Store;
  masterKey: Buffer;
  log: Logger;
  /** First retry delay; attempt n waits base × 2^(n-1), capped at one hour. */
  baseDelayMs?: number;
  maxAttempts?: number;
  timeoutMs?: number;
  /** Allow loopback and link-local destinations (`--webhook-allow-local`); refused by default. */
  allowLocal?: boolean;
  /** Allow plain `http://` URLs (`--webhook-allow-http`); https only by default. */
  allowHttp?: boolean;
}

interface Due {
  id: string;
  webhook_id: string;
  event_type: string;
  payload: string;
  attempts: number;
  next_attempt_at: number | string;
  url: string;
  secret_sealed: string;
}

const MAX_DELAY_MS = 3_600_000;
/** How much longer than the request timeout an attempt's claim lasts. */
const CLAIM_MARGIN_MS = 5_000;

/**
 * Delivers queued webhook events: POST with the HMAC signature header, retries with exponential
 * backoff, every attempt's outcome recorded in `webhook_deliveries` (the delivery log).
 */
export class WebhookDispatcher {
  readonly #o: Required<DispatcherOptions>;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(options: DispatcherOptions) {
    this.#o = {
      baseDelayMs: 1000,
      maxAttempts: 8,
      timeoutMs: 10_000,
      allowLocal: false,
      allowHttp: false,
      ...options,
    };
  }

  /** Runs a pass now (or right after the current one). */
  wake(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    clearTimeout(this.#timer);
    this.#running = this.#pass()
      .catch((error: unknown) => this.#o.log.error({ err: error }, "webhook dispatch failed"))
      .finally(() => {
        this.#running = undefined;
        if (this.#again) {
          this.#again = false;
          this.wake();
        } else
          this.#schedule().catch((error: unknown) => {
            // Unhandled, a store failure here (PostgreSQL away) would end the process.
            this.#o.log.error({ err: error }, "webhook schedule failed; retrying");
            this.#retryLater();
          });
      });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  #retryLater(): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.wake(), SCHEDULE_RETRY_MS);
    this.#timer.unref();
  }

  async #schedule(): Promise<void> {
    if (this.#stopped) return;
    const next = await this.#o.store.get<{ at: number | null }>(
      `SELECT MIN(next_attempt_at) AS at FROM webhook_deliveries WHERE status = 'pending'`,
    );
    if (next?.at === null || next?.at === undefined || this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.wake(), Math.max(0, Number(next.at) - Date.now()));
    this.#timer.unref();
  }

  async #pass(): Promise<void> {
    for (;;) {
      const due = await this.#o.store.all<Due>(
        `SELECT d.id, d.webhook_id, d.event_type, d.payload, d.attempts, d.next_attempt_at, w.url, w.secret_sealed
         FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
         WHERE d.status = 'pending' AND d.next_attempt_at <= ? ORDER BY d.next_attempt_at, d.id LIMIT 50`,
        [Date.now()],
      );
      if (due.length === 0 || this.#stopped) return;
      await Promise.all(due.map((d) => this.#deliver(d)));
    }
  }

  /**
   * Claims one attempt of a due delivery for this process: the attempt time is moved past this
   * attempt's timeout, only if nobody moved it since it was read (compare-and-set). In scale-out
   * every process dispatches from the same table; exactly one of them wins each attempt. If the
   * winner dies mid-attempt, the delivery is due again once the claim runs out (at-least-once:
   * receivers de-duplicate by the `bulwark-delivery` id).
   */
  async #claim(d: Due): Promise<boolean> {
    const { changes } = await this.#o.store.run(
      `UPDATE webhook_deliveries SET next_attempt_at = ?
       WHERE id = ? AND status = 'pending' AND next_attempt_at = ?`,
      [Date.now() + this.#o.timeoutMs + CLAIM_MARGIN_MS, d.id, Number(d.next_attempt_at)],
    );
    return changes === 1;
  }

  async #deliver(d: Due): Promise<void> {
    if (!(await this.#claim(d))) return;
    const attempt = Number(d.attempts) + 1;
    const outcome = await this.#post(d);
    const now = Date.now();
    if (outcome.ok) {
      await this.#o.store.run(
        `UPDATE webhook_deliveries SET status = 'delivered', attempts = ?, last_status = ?, last_error = NULL,
          delivered_at = ? WHERE id = ?`,
        [attempt, outcome.status, now, d.id],
      );
      return;
    }
    const failed = attempt >= this.#o.maxAttempts;
    const delay = Math.min(MAX_DELAY_MS, this.#o.baseDelayMs * 2 ** (attempt - 1));
    await this.#o.store.run(
      `UPDATE webhook_deliveries SET status = ?, attempts = ?, last_status = ?, last_error = ?, next_attempt_at = ?
        WHERE id = ?`,
      [failed ? "failed" : "pending", attempt, outcome.status ?? null, outcome.error, now + delay, d.id],
    );
    this.#o.log.info({ delivery: d.id, attempt, status: outcome.status, failed }, "webhook delivery failed");
  }

  async #post(d: Due): Promise<{ ok: true; status: number } | { ok: false; status?: number; error: string }> {
    try {
      const secret = openSecret(this.#o.masterKey, d.webhook_id, d.secret_sealed);
      const url = new URL(d.url);
      // Checked again at delivery: a webhook stored while the server allowed more is held to today's policy.
      const refused = refusedLiteral(url, this.#o.allowLocal) ?? refusedScheme(url, this.#o.allowHttp);
      if (refused) return { ok: false, error: refused };
      const status = await postOnce(url, {
        body: d.payload,
        timeoutMs: this.#o.timeoutMs,
        lookup: guardedLookup(this.#o.allowLocal),
        headers: {
          "content-type": "application/json",
          "user-agent": "bulwark-webhooks/1",
          "bulwark-event": d.event_type,
          "bulwark-delivery": d.id,
          "bulwark-signature": webhookSignature(secret, Math.floor(Date.now() / 1000), d.payload),
        },
      });
      if (status >= 200 && status < 300) return { ok: true, status };
      return { ok: false, status, error: `HTTP ${status}` };
    } catch (error) {
      return { ok: false, error: (error as Error).message.slice(0, 200) };
    }
  }
}

/** One POST, no redirects followed (a 3xx is a failed attempt); resolves with the status code. */
function postOnce(
  url: URL,
  o: { body: string; timeoutMs: number; lookup: LookupFunction; headers: Record<string, string> },
): Promise<number> {
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method: "POST",
        lookup: o.lookup,
        signal: AbortSignal.timeout(o.timeoutMs),
        headers: { ...o.headers, "content-length": String(Buffer.byteLength(o.body)) },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(o.body);
  });
}
