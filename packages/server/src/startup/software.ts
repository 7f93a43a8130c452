import type { Logger } from "pino";
import type { Config } from "../config.ts";
import { SoftwareMonitor } from "../software/monitor.ts";
import { WorkerParser } from "../software/parsing/document-parser.ts";
import type { SoftwareRouteOptions } from "../software/plugin.ts";
import { WebhookDispatcher } from "../software/webhooks/dispatcher.ts";
import { WebhookEventRegistry } from "../software/webhooks/events.ts";
import { warnPlainHttpWebhooks } from "../software/webhooks/plain-http-check.ts";
import type { Store } from "../store/store.ts";

export interface SoftwareRuntime {
  monitor: SoftwareMonitor;
  webhooks: WebhookDispatcher;
  parser: WorkerParser;
  /** The events webhooks may subscribe to; domains above add theirs before the routes are registered. */
  webhookEvents: WebhookEventRegistry;
  /** What the software routes need besides the store and custody. */
  routes: Pick<SoftwareRouteOptions, "monitor" | "masterKey" | "webhooks" | "webhookEvents" | "spoolDir">;
}

/** The software-trust monitor and the webhook dispatcher, which resumes deliveries pending from before a restart. */
export async function startSoftware(
  store: Store,
  masterKey: Buffer,
  spoolDir: string,
  config: Config,
  log: Logger,
): Promise<SoftwareRuntime> {
  const policy = { allowLocal: config.webhookAllowLocal, allowHttp: config.webhookAllowHttp };
  if (policy.allowLocal || policy.allowHttp)
    log.warn(policy, "webhooks may reach local destinations or use plain http (meant for labs and tests)");
  await warnPlainHttpWebhooks(store, config.webhookAllowHttp, log);
  const webhooks = new WebhookDispatcher({
    store,
    masterKey,
    log: log.child({ component: "webhooks" }),
    ...policy,
  });
  // Untrusted documents (SBOMs, OSV bundles, the KEV catalogue) are parsed off the event loop.
  const parser = new WorkerParser();
  const monitor = new SoftwareMonitor(store, () => webhooks.wake(), parser);
  // Deliveries still pending from before a restart are resumed.
  webhooks.wake();
  const webhookEvents = new WebhookEventRegistry();
  return {
    monitor,
    webhooks,
    parser,
    webhookEvents,
    routes: { monitor, masterKey, webhooks: policy, webhookEvents, spoolDir },
  };
}
