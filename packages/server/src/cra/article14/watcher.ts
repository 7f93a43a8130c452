import { notify } from "../../audit/notifications.ts";
import type { KeyCustody } from "../../custody/key-custody.ts";
import { listFindings } from "../../software/findings.ts";
import { enqueueEvents } from "../../software/webhooks/webhooks.ts";
import type { Store } from "../../store/store.ts";
import { releaseById } from "../product-source.ts";
import { clocks } from "./clocks.ts";
import { listEvents, openEvent } from "./events.ts";
import { submissionsOf, submittedStages } from "./submissions.ts";
import type { Article14WebhookEvent } from "./webhook-events.ts";

const KEY_SETTING = "cra.awareness-key";
const REMIND_BEFORE_MS = 6 * 3600 * 1000;

/** The awareness-log signing key: created in custody on first use (ECDSA P-256). */
export async function ensureAwarenessKey(store: Store, custody: KeyCustody) {
  const row = await store.get<{ value: string }>(`SELECT value FROM settings WHERE key = ?`, [KEY_SETTING]);
  let id = row?.value;
  if (!id) {
    const generated = (await custody.generate("cra-awareness", "ecdsa-p256")).id;
    // A concurrent first use (another request, another process) may have won: use its key.
    await store
      .run(`INSERT INTO settings (key, value) VALUES (?, ?)`, [KEY_SETTING, generated])
      .catch(() => undefined);
    id = (await store.get<{ value: string }>(`SELECT value FROM settings WHERE key = ?`, [KEY_SETTING]))!
      .value;
  }
  return { signer: await custody.signer(id), publicKey: (await custody.get(id)).publicKey };
}

/**
 * Opens a candidate Article 14 event for every open known-exploited finding not yet linked to one
 * (CRA Art. 14(1)), one event per product and vulnerability; awareness is when the platform
 * flagged the finding. Returns the events created.
 */
export async function sweepKnownExploited(store: Store, custody: KeyCustody): Promise<number> {
  const { signer } = await ensureAwarenessKey(store, custody);
  let created = 0;
  for (let offset = 0; ; offset += 200) {
    const page = await listFindings(store, { article14Candidate: true, status: "open", limit: 200, offset });
    for (const f of page.items) {
      if (await store.get(`SELECT 1 AS x FROM cra_event_findings WHERE finding_id = ?`, [f.id])) continue;
      const release = await releaseById(store, f.releaseId);
      if (!release) continue;
      const result = await store.transaction((tx) =>
        openEvent(
          tx,
          signer,
          {
            productId: release.productId,
            kind: "vulnerability",
            vulnerability: f.vulnerability,
            title: `${f.vulnerability} actively exploited in ${f.component.name}`,
            summary: f.summary ?? `${f.vulnerability} is listed as known exploited (CISA KEV)`,
            trigger: "kev",
            status: "candidate",
            awareAt: f.updatedAt,
            details: { finding: f.id, component: f.component.purl, advisories: f.advisories },
          },
          [f.id],
        ),
      );
      if (result.created) created++;
    }
    if (offset + 200 >= page.total) break;
  }
  return created;
}

/**
 * Raises each reminder once (kept in `cra_reminders`, so a restart does not repeat it): a
 * notification and, in the same transaction, a `cra.report.reminder` / `cra.report.overdue` webhook
 * delivery to every active webhook subscribed to it. Returns the reminders raised and the deliveries queued.
 */
export async function sendReminders(
  store: Store,
  now = Date.now(),
): Promise<{ sent: number; deliveries: number }> {
  let sent = 0;
  let deliveries = 0;
  for (const event of await listEvents(store, {})) {
    if (event.status === "dismissed" || event.status === "closed") continue;
    for (const clock of clocks(event, submittedStages(await submissionsOf(store, event.id)), now)) {
      const threshold =
        clock.state === "overdue"
          ? "overdue"
          : clock.state === "running" && clock.remainingMs! < REMIND_BEFORE_MS
            ? "6h"
            : null;
      if (!threshold) continue;
      const fresh = await store.transaction(async (tx) => {
        if (
          await tx.get(
            `SELECT 1 AS x FROM cra_reminders WHERE event_id = ? AND stage = ? AND threshold = ?`,
            [event.id, clock.stage, threshold],
          )
        )
          return false;
        await tx.run(`INSERT INTO cra_reminders (event_id, stage, threshold, sent_at) VALUES (?, ?, ?, ?)`, [
          event.id,
          clock.stage,
          threshold,
          now,
        ]);
        await notify(tx, {
          kind: "cra-report-deadline",
          severity: threshold === "overdue" ? "critical" : "warning",
          message: `Art. 14 ${clock.stage} for "${event.title}" ${threshold === "overdue" ? "is overdue" : "is due within 6 hours"} (due ${clock.dueAt})`,
          details: { eventId: event.id, stage: clock.stage, dueAt: clock.dueAt },
        });
        const type: Article14WebhookEvent =
          threshold === "overdue" ? "cra.report.overdue" : "cra.report.reminder";
        // CRA Art. 14(2)/(4): the stage's deadline, for whoever acts on it outside the platform.
        const payload = () => ({
          eventId: event.id,
          productId: event.productId,
          kind: event.kind,
          vulnerability: event.vulnerability,
          title: event.title,
          status: event.status,
          stage: clock.stage,
          dueAt: clock.dueAt,
          threshold,
        });
        // Queued for delivery now, whatever instant the clocks were read at.
        return enqueueEvents(tx, [{ type, payload }]);
      });
      if (fresh !== false) {
        sent++;
        deliveries += fresh;
      }
    }
  }
  return { sent, deliveries };
}

/** Runs the sweep and the reminders when woken (after each software-monitor commit) and every minute. */
export class Article14Watcher {
  readonly #store: Store;
  readonly #custody: KeyCustody;
  readonly #onError: (error: unknown) => void;
  readonly #onDeliveries: () => void;
  #running: Promise<void> | undefined;
  #again = false;
  #timer: NodeJS.Timeout | undefined;

  /** `onDeliveries`: webhook deliveries were queued (wake the dispatcher). */
  constructor(
    store: Store,
    custody: KeyCustody,
    onError: (error: unknown) => void,
    onDeliveries: () => void = () => {},
  ) {
    this.#store = store;
    this.#custody = custody;
    this.#onError = onError;
    this.#onDeliveries = onDeliveries;
  }

  start(intervalMs = 60_000): void {
    this.#timer = setInterval(() => this.wake(), intervalMs);
    this.#timer.unref();
    this.wake();
  }

  wake(): void {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        try {
          await sweepKnownExploited(this.#store, this.#custody);
          const { deliveries } = await sendReminders(this.#store);
          if (deliveries > 0) this.#onDeliveries();
        } catch (error) {
          this.#onError(error);
        }
      } while (this.#again);
    })().finally(() => {
      this.#running = undefined;
    });
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }
}
