import type { FastifyInstance } from "fastify";
import type { KeyCustody } from "../custody/key-custody.ts";
import type { Store } from "../store/store.ts";
import { findingRoutes } from "./finding-routes.ts";
import type { SoftwareMonitor } from "./monitor.ts";
import { sbomRoutes } from "./sbom-routes.ts";
import { signingRoutes } from "./signing-routes.ts";
import { vulnerabilityRoutes } from "./vulnerability-routes.ts";
import { webhookRoutes } from "./webhook-routes.ts";
import type { WebhookPolicy } from "./webhooks/destination.ts";
import type { WebhookEventRegistry } from "./webhooks/events.ts";

export interface SoftwareRouteOptions {
  store: Store;
  monitor: SoftwareMonitor;
  custody: KeyCustody;
  masterKey: Buffer;
  /** Local destinations (`--webhook-allow-local`) and plain http (`--webhook-allow-http`) allowed? */
  webhooks: WebhookPolicy;
  /** The events webhooks may subscribe to (the software ones and those other domains registered). */
  webhookEvents: WebhookEventRegistry;
  /** Largest SBOM accepted by upload (default 16 MiB). */
  maxSbomBytes?: number;
  /** Largest OSV bundle / KEV upload (default 256 MiB). */
  maxUploadBytes?: number;
  /** This process's upload spool folder, under the data directory (spool.ts). */
  spoolDir: string;
}

/**
 * The software-trust domain's HTTP API: SBOMs, vulnerability data, findings and triage, webhooks,
 * release signing. Encapsulated, and so is each part (own body parsers where needed).
 */
export function softwarePlugin(o: SoftwareRouteOptions) {
  return async function software(app: FastifyInstance): Promise<void> {
    await app.register(sbomRoutes(o.store, o.monitor, o.monitor.parser, o.maxSbomBytes ?? 16 * 1024 * 1024));
    await app.register(
      vulnerabilityRoutes(o.store, o.monitor, o.maxUploadBytes ?? 256 * 1024 * 1024, o.spoolDir),
    );
    await app.register(findingRoutes(o.store));
    await app.register(webhookRoutes(o.store, o.masterKey, o.webhooks, o.webhookEvents));
    await app.register(signingRoutes(o.store, o.custody));
  };
}
