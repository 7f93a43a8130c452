import { BulwarkError } from "@bulwark/sdk/errors";
import type { FastifyInstance } from "fastify";
import { auditedChange } from "../audit/audited-change.ts";
import { deviceById } from "../fleet/devices.ts";
import type { Store } from "../store/store.ts";
import type { ControlBus } from "./bus.ts";

/**
 * `POST /api/v1/devices/{id}/disconnect`: closes the device's live MQTT sessions on whichever
 * process holds them (through the control bus). The device may reconnect unless its status or
 * certificate says otherwise; disable/quarantine use the same bus event.
 */
export function controlRoutes(store: Store, control: ControlBus) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.post<{ Params: { id: string } }>(
      "/api/v1/devices/:id/disconnect",
      {
        config: { auth: { permission: "devices:write" } },
        schema: {
          params: {
            type: "object",
            additionalProperties: false,
            properties: { id: { type: "string", format: "uuid" } },
            required: ["id"],
          },
        },
      },
      async (request, reply) => {
        const deviceId = request.params.id;
        await auditedChange(
          store,
          request,
          async (tx) => {
            if (!(await deviceById(tx, deviceId))) throw new BulwarkError("BW_ERR_DEVICE_NOT_FOUND");
          },
          { action: "device.disconnect", target: { type: "device", id: deviceId } },
        );
        await control.publish({ type: "device.disconnect", deviceId });
        reply.code(202);
        return { deviceId, disconnect: "requested" };
      },
    );
  };
}
