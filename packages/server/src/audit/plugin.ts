import type { FastifyInstance } from "fastify";
import { notificationRoutes } from "./notifications.ts";
import { type AuditRouteDeps, auditRoutes } from "./routes.ts";

/**
 * The audit domain's HTTP API: the log, its export and verification, checkpoints, retention, and
 * the notifications of suspicious access. Encapsulated: it only adds routes.
 */
export function auditPlugin(deps: AuditRouteDeps) {
  return async function audit(app: FastifyInstance): Promise<void> {
    await app.register(auditRoutes(deps));
    await app.register(notificationRoutes(deps.store));
  };
}
