import type { FastifyInstance } from "fastify";
import type { Store } from "../store/store.ts";
import { deviceActionRoutes } from "./action-routes.ts";
import type { FleetService } from "./fleet-service.ts";
import { policyRoutes } from "./policy-routes.ts";
import { fleetRoutes } from "./routes.ts";
import { securityEventRoutes } from "./security-event-routes.ts";
import { wipeReceiptRoutes } from "./wipe-receipt-routes.ts";

/**
 * The fleet domain's HTTP API: devices, groups, device policies, incident actions, device
 * security events and wipe receipts. Encapsulated (it only adds routes; the access rules come from the root's hooks).
 */
export function fleetPlugin(deps: { store: Store; fleet: FleetService }) {
  return async function fleet(app: FastifyInstance): Promise<void> {
    await app.register(fleetRoutes(deps.store, deps.fleet.delivery));
    await app.register(deviceActionRoutes(deps.fleet.incidents));
    await app.register(policyRoutes(deps.store, deps.fleet.delivery));
    await app.register(securityEventRoutes(deps.store));
    await app.register(wipeReceiptRoutes(deps.fleet.wipes));
  };
}
