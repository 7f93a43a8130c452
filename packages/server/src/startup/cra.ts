import type { Logger } from "pino";
import { Article14Watcher } from "../cra/article14/watcher.ts";
import { ARTICLE14_WEBHOOK_EVENTS } from "../cra/article14/webhook-events.ts";
import type { KeyCustody } from "../custody/key-custody.ts";
import type { Store } from "../store/store.ts";
import type { SoftwareRuntime } from "./software.ts";

export interface CraRuntime {
  /** Opens Article 14 candidates and raises deadline reminders; survives restarts (stored times). */
  article14: Article14Watcher;
}

/** CRA Article 14: a newly known-exploited finding opens a candidate event on its own. */
export function startCra(
  store: Store,
  custody: KeyCustody,
  software: Pick<SoftwareRuntime, "monitor" | "webhooks" | "webhookEvents">,
  log: Logger,
): CraRuntime {
  // Deadline reminders go out through the signed webhooks too (registered before the routes are).
  software.webhookEvents.register(...ARTICLE14_WEBHOOK_EVENTS);
  const article14 = new Article14Watcher(
    store,
    custody,
    (error) => log.error({ err: error }, "Article 14 watcher"),
    () => software.webhooks.wake(),
  );
  const monitor = software.monitor;
  // Each committed monitor flow may have made a finding known-exploited: sweep for candidates at once.
  monitor.onCommit(
    () => article14.wake(),
    (error) => log.error({ err: error }, "Article 14 wake-up"),
  );
  article14.start();
  return { article14 };
}
