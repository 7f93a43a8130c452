import type { FastifyInstance } from "fastify";
import type { Store } from "../store/store.ts";
import { evidenceRoutes } from "./evidence/routes.ts";
import type { PlatformCapabilities } from "./evidence/types.ts";
import { productCraRoutes } from "./product-routes.ts";

export interface CraDeps {
  store: Store;
  capabilities: PlatformCapabilities;
}

/** The CRA compliance domain's HTTP routes, as one Fastify plugin (issue #16). */
export function craRoutes(deps: CraDeps) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    await productCraRoutes(app, deps.store);
    await evidenceRoutes(app, deps.store, deps.capabilities);
  };
}
