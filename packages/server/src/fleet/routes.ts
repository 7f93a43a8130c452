import { BulwarkError } from "@bulwark/sdk/errors";
import type { FastifyInstance } from "fastify";
import { auditedChange } from "../audit/audited-change.ts";
import type { Store } from "../store/store.ts";
import type { ConfigDelivery } from "./config-delivery.ts";
import {
  DEVICE_STATUSES,
  type DeviceStatus,
  deviceById,
  deviceCertificates,
  listDevices,
  SORT_PATTERN,
  setInventory,
} from "./devices.ts";
import { createGroup, groupByName, listGroups } from "./groups.ts";
import { assignPolicyToGroup, devicesInGroup, latestPolicy } from "./policies.ts";

interface DeviceListQuery {
  limit?: number;
  offset?: number;
  status?: DeviceStatus;
  group?: string;
  online?: boolean;
  product?: string;
  serial?: string;
  sort?: string;
}

const ID_PARAMS = {
  type: "object",
  properties: { id: { type: "string", format: "uuid" } },
  required: ["id"],
} as const;

const INVENTORY_TEXT = {
  type: ["string", "null"],
  minLength: 1,
  maxLength: 128,
  pattern: "^[\\x20-\\x7e]+$",
};

export function fleetRoutes(store: Store, delivery: ConfigDelivery) {
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
              status: { type: "string", enum: DEVICE_STATUSES },
              group: { type: "string", maxLength: 63 },
              online: { type: "boolean" },
              product: { type: "string", maxLength: 128 },
              serial: { type: "string", maxLength: 128 },
              // Only the fixed sort keys of devices.ts; "-" prefix for descending.
              sort: { type: "string", pattern: SORT_PATTERN },
            },
          },
        },
      },
      async (request) => {
        const q = request.query;
        const limit = q.limit ?? 100;
        const offset = q.offset ?? 0;
        const page = await listDevices(store, { ...q, limit, offset });
        return { ...page, limit, offset, sort: q.sort ?? "createdAt" };
      },
    );

    app.get<{ Params: { id: string } }>(
      "/api/v1/devices/:id",
      { config: { auth: { permission: "devices:read" } }, schema: { params: ID_PARAMS } },
      async (request) => {
        const device = await deviceById(store, request.params.id);
        if (!device) throw new BulwarkError("BW_ERR_DEVICE_NOT_FOUND");
        return { ...device, certificates: await deviceCertificates(store, device.id) };
      },
    );

    // Inventory fields an operator keeps: hardware serial (when the device did not bring one) and product.
    app.patch<{ Params: { id: string }; Body: { serial?: string | null; product?: string | null } }>(
      "/api/v1/devices/:id",
      {
        config: { auth: { permission: "devices:write" } },
        schema: {
          params: ID_PARAMS,
          body: {
            type: "object",
            additionalProperties: false,
            minProperties: 1,
            properties: { serial: INVENTORY_TEXT, product: INVENTORY_TEXT },
          },
        },
      },
      async (request) => {
        const { id } = request.params;
        await auditedChange(
          store,
          request,
          async (tx) => {
            if (!(await setInventory(tx, id, request.body)))
              throw new BulwarkError("BW_ERR_DEVICE_NOT_FOUND");
          },
          { action: "device.update", target: { type: "device", id }, details: request.body },
        );
        return deviceById(store, id);
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
        const group = await auditedChange(
          store,
          request,
          (tx) => createGroup(tx, request.body.name),
          (created) => ({
            action: "group.create",
            target: { type: "group", id: created.id },
            details: { name: created.name },
          }),
        );
        reply.code(201);
        return group;
      },
    );

    // Assigns a device policy (by name; its devices get the latest version) and pushes it.
    app.put<{ Params: { name: string }; Body: { policy: string | null } }>(
      "/api/v1/groups/:name/policy",
      {
        config: { auth: { permission: "policies:write" } },
        schema: {
          params: {
            type: "object",
            properties: { name: { type: "string", maxLength: 63 } },
            required: ["name"],
          },
          body: {
            type: "object",
            additionalProperties: false,
            required: ["policy"],
            properties: { policy: { type: ["string", "null"], minLength: 1, maxLength: 63 } },
          },
        },
      },
      async (request) => {
        const { policy } = request.body;
        const group = await auditedChange(
          store,
          request,
          async (tx) => {
            const found = await groupByName(tx, request.params.name);
            if (!found) throw new BulwarkError("BW_ERR_GROUP_NOT_FOUND");
            if (policy !== null && !(await latestPolicy(tx, policy)))
              throw new BulwarkError("BW_ERR_POLICY_NOT_FOUND");
            await assignPolicyToGroup(tx, found.id, policy);
            return found;
          },
          (found) => ({
            action: "group.policy.assign",
            target: { type: "group", id: found.id },
            details: { group: found.name, from: found.policyName, to: policy },
          }),
        );
        const pushed = await delivery.pushAll(await devicesInGroup(store, group.id));
        return { ...(await groupByName(store, group.name)), pushed };
      },
    );
  };
}
