import type { FastifyInstance } from "fastify";
import { actorOf } from "../audit/actor.ts";
import { applyDeviceAction, type IncidentDeps } from "./incident-actions.ts";
import { DEVICE_ACTIONS, type DeviceAction } from "./lifecycle.ts";

/**
 * `POST /api/v1/devices/{id}/{action}` for enable, disable, quarantine, compromise and
 * decommission. Each commits the status with its audit entry in one transaction, then live
 * sessions follow (CRA Annex I Part I (2)(d): cut a device off the moment it is suspect).
 */
export function deviceActionRoutes(deps: IncidentDeps) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    for (const action of DEVICE_ACTIONS) {
      app.post<{ Params: { id: string }; Body: { reason?: string } | undefined }>(
        `/api/v1/devices/:id/${action}`,
        {
          config: {
            auth: { permission: action === "decommission" ? "devices:decommission" : "devices:incident" },
          },
          schema: {
            params: {
              type: "object",
              properties: { id: { type: "string", format: "uuid" } },
              required: ["id"],
            },
            body: {
              type: ["object", "null"],
              additionalProperties: false,
              properties: { reason: { type: "string", minLength: 1, maxLength: 500 } },
            },
          },
        },
        async (request) => {
          const result = await applyDeviceAction(deps, {
            deviceId: request.params.id,
            action: action as DeviceAction,
            actor: actorOf(request.principal),
            reason: request.body?.reason,
          });
          request.log.info(
            { deviceId: request.params.id, action, from: result.from, sessions: result.sessionsAffected },
            "device action applied",
          );
          return result;
        },
      );
    }
  };
}
