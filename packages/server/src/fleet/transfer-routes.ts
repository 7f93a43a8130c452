import type { FastifyInstance } from "fastify";
import { actorOf } from "../http/auth.ts";
import { getTransfer, startTransfer, type TransferDeps } from "./transfer.ts";

const uuid = { type: "string", format: "uuid" } as const;

/**
 * `POST /api/v1/devices/{id}/transfer {to}` moves a device's data to its replacement, sealed to
 * the new device and signed by the old one (`transfer.ts`); `GET /api/v1/transfers/{id}` follows it.
 */
export function transferRoutes(deps: TransferDeps) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.post<{ Params: { id: string }; Body: { to: string } }>(
      "/api/v1/devices/:id/transfer",
      {
        config: { auth: { permission: "devices:decommission" } },
        schema: {
          params: { type: "object", properties: { id: uuid }, required: ["id"] },
          body: { type: "object", additionalProperties: false, properties: { to: uuid }, required: ["to"] },
        },
      },
      async (request, reply) => {
        const transfer = await startTransfer(deps, {
          sourceId: request.params.id,
          targetId: request.body.to,
          actor: actorOf(request.principal),
        });
        request.log.info(
          { transferId: transfer.id, from: transfer.sourceDeviceId, to: transfer.targetDeviceId },
          "device transfer started",
        );
        return reply.code(202).send(transfer);
      },
    );
    app.get<{ Params: { id: string } }>(
      "/api/v1/transfers/:id",
      {
        config: { auth: { permission: "devices:read" } },
        schema: { params: { type: "object", properties: { id: uuid }, required: ["id"] } },
      },
      async (request) => getTransfer(deps.store, request.params.id),
    );
  };
}
