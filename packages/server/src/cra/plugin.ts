import type { FastifyInstance } from "fastify";
import type { KeyCustody } from "../pki/key-custody.ts";
import type { Store } from "../store/store.ts";
import { article14Routes } from "./article14/routes.ts";
import { disclosureRoutes } from "./disclosure/routes.ts";
import { evidenceRoutes } from "./evidence/routes.ts";
import type { PlatformCapabilities } from "./evidence/types.ts";
import { productCraRoutes } from "./product-routes.ts";

export interface CraDeps {
  store: Store;
  custody: KeyCustody;
  capabilities: PlatformCapabilities;
  /** Wakes the Article 14 watcher (reminders) after a report changes. */
  wake: () => void;
  /** The platform's public base URL (security.txt names its own locations under it). */
  publicUrl: () => string;
}

/** The CRA compliance domain's HTTP routes, as one Fastify plugin (issue #16). */
export function craRoutes(deps: CraDeps) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    await productCraRoutes(app, deps.store);
    await evidenceRoutes(app, deps.store, deps.capabilities);
    await article14Routes(app, deps.store, deps.custody, deps.wake);
    await disclosureRoutes(app, { ...deps, csafProviderMetadata: () => null });
  };
}
