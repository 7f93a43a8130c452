import { BulwarkError } from "@bulwark/sdk/errors";
import type { FastifyInstance } from "fastify";
import type { Store } from "../store/store.ts";
import { type DeviceStatus, deviceById, listDevices } from "./devices.ts";
import { createGroup, listGroups } from "./groups.ts";

const STATUSES: DeviceStatus[] = [
  "pending",
  "active",
  "disabled",
  "quarantined",
  "compromised",
  "decommissioned",
];

interface DeviceListQuery {
  limit?: number;
  offset?: number;
  status?: DeviceStatus;
  group?: string;
  online?: boolean;
}

export function fleetRoutes(store: Store) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get<{ Querystring: DeviceListQuery }>(
      "/api/v1/devices",
      {
        config: { auth: { permission: "devices:read" } },
        schema: {
          querystring: {
            type: "object",
            additionalProperties: false,
            properties: {
              limit: { type: "integer", minimum: 1, maximum: 1000 },
              offset: { type: "integer", minimum: 0 },
              status: { type: "string", enum: STATUSES },
              group: { type: "string", maxLength: 63 },
              online: { type: "boolean" },
            },
          },
        },
      },
      async (request) => {
        const q = request.query;
        const page = await listDevices(store, {
          limit: q.limit ?? 100,
          offset: q.offset ?? 0,
          status: q.status,
          group: q.group,
          online: q.online,
        });
        return { ...page, limit: q.limit ?? 100, offset: q.offset ?? 0 };
      },
    );

    app.get<{ Params: { id: string } }>(
      "/api/v1/devices/:id",
      {
        config: { auth: { permission: "devices:read" } },
        schema: {
          params: {
            type: "object",
            properties: { id: { type: "string", format: "uuid" } },
            required: ["id"],
          },
        },
      },
      async (request) => {
        const device = await deviceById(store, request.params.id);
        if (!device) throw new BulwarkError("BW_ERR_DEVICE_NOT_FOUND");
        return device;
      },
    );

    app.get("/api/v1/groups", { config: { auth: { permission: "groups:read" } } }, async () => ({
      items: await listGroups(store),
    }));

    app.post<{ Body: { name: string } }>(
      "/api/v1/groups",
      {
        config: { auth: { permission: "groups:write" } },
        schema: {
          body: {
            type: "object",
            additionalProperties: false,
            required: ["name"],
            properties: { name: { type: "string", minLength: 1, maxLength: 63 } },
          },
        },
      },
      async (request, reply) => {
        const group = await createGroup(store, request.body.name);
        request.log.info({ group: group.name }, "group created");
        reply.code(201);
        return group;
      },
    );
  };
}
