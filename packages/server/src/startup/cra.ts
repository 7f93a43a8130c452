import type { Logger } from "pino";
import { wakeAfterFlows } from "../cra/article14/monitor-hook.ts";
import { Article14Watcher } from "../cra/article14/watcher.ts";
import type { KeyCustody } from "../pki/key-custody.ts";
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
  wakeAfterFlows(monitor, () => article14.wake());
  article14.start();
  return { article14 };
}
