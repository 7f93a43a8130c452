import type { Logger } from "pino";
import { Article14Watcher } from "../cra/article14/watcher.ts";
import type { KeyCustody } from "../custody/key-custody.ts";
import type { SoftwareMonitor } from "../software/monitor.ts";
import type { Store } from "../store/store.ts";

export interface CraRuntime {
  /** Opens Article 14 candidates and raises deadline reminders; survives restarts (stored times). */
  article14: Article14Watcher;
}

/** CRA Article 14: a newly known-exploited finding opens a candidate event on its own. */
export function startCra(
  store: Store,
  custody: KeyCustody,
  monitor: SoftwareMonitor,
  log: Logger,
): CraRuntime {
  const article14 = new Article14Watcher(store, custody, (error) =>
    log.error({ err: error }, "Article 14 watcher"),
  );
  // Each committed monitor flow may have made a finding known-exploited: sweep for candidates at once.
  monitor.onCommit(
    () => article14.wake(),
    (error) => log.error({ err: error }, "Article 14 wake-up"),
  );
  article14.start();
  return { article14 };
}
