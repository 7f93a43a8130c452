import { BulwarkError } from "@bulwark/sdk/errors";
import type { Root } from "@bulwark/sdk/tuf";
import type { FastifyInstance } from "fastify";
import { actorOf } from "../audit/actor.ts";
import type { DeltaDeps } from "./delta.ts";
import { type DeviceClientDeps, deviceForProduct } from "./device-client.ts";
import { productById } from "./products.ts";
import { publishRelease } from "./publish.ts";
import type { TufDeps } from "./tuf-repository.ts";
import { importRootSignature, pendingRootRequest, requestRootSigning } from "./tuf-root.ts";
import { ROTATE_ROLES, type RotateRole, rotateKeys } from "./tuf-rotate.ts";
import { tufFile, tufRepositoryRow } from "./tuf-store.ts";

const ID_PARAMS = {
  type: "object",
  properties: { id: { type: "string", format: "uuid" } },
  required: ["id"],
} as const;

// TUF spec §5.3.3, §5.4.1, §5.5.1, §5.6.1 with consistent snapshots (§6.2): N.ROLE.json and timestamp.json.
const METADATA_FILE = "^(?:[1-9][0-9]{0,9}\\.[a-z0-9][a-z0-9._-]{0,63}\\.json|timestamp\\.json)$";

async function productOrNotFound(deps: TufDeps, id: string): Promise<void> {
  if (!(await productById(deps.store, id))) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such product");
}

/** The product's TUF repository: metadata for devices, publishing and root signing for operators. */
export async function tufRoutes(
  app: FastifyInstance,
  deps: TufDeps & DeviceClientDeps & DeltaDeps,
): Promise<void> {
  app.get<{ Params: { productId: string; file: string } }>(
    "/tuf/:productId/:file",
    {
      // Public at the access layer: the device is authenticated inside by its certificate.
      config: { auth: { public: true } },
      schema: {
        params: {
          type: "object",
          properties: {
            productId: { type: "string", format: "uuid" },
            file: { type: "string", pattern: METADATA_FILE },
          },
          required: ["productId", "file"],
        },
      },
    },
    async (request, reply) => {
      await deviceForProduct(deps, request, request.params.productId);
      const body = await tufFile(deps.store, request.params.productId, request.params.file);
      if (!body) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such metadata file");
      // The timestamp changes in place; versioned files never do (§6.2).
      reply.header(
        "cache-control",
        request.params.file === "timestamp.json" ? "no-cache" : "max-age=31536000, immutable",
      );
      return reply.type("application/json").send(body);
    },
  );

  app.post<{ Params: { id: string } }>(
    "/api/v1/releases/:id/publish",
    { config: { auth: { permission: "releases:publish" } }, schema: { params: ID_PARAMS } },
    async (request) => publishRelease(deps, request.params.id, actorOf(request.principal), deps),
  );

  app.get<{ Params: { id: string } }>(
    "/api/v1/products/:id/tuf",
    { config: { auth: { permission: "products:read", productParam: "id" } }, schema: { params: ID_PARAMS } },
    async (request) => {
      await productOrNotFound(deps, request.params.id);
      const row = await tufRepositoryRow(deps.store, request.params.id);
      if (!row) return { published: false };
      const timestamp = JSON.parse(
        (await tufFile(deps.store, row.productId, "timestamp.json"))!.toString(),
      ) as {
        signed: { version: number; expires: string; meta: { "snapshot.json": { version: number } } };
      };
      const versions = (
        await deps.store.all<{ name: string }>(`SELECT name FROM tuf_files WHERE product_id = ?`, [
          row.productId,
        ])
      )
        .map((r) => /^(\d+)\.root\.json$/.exec(r.name)?.[1])
        .filter((v): v is string => v !== undefined)
        .map(Number);
      const latest = Math.max(...versions);
      const root = JSON.parse(
        (await tufFile(deps.store, row.productId, `${latest}.root.json`))!.toString(),
      ) as { signed: Root };
      return {
        published: true,
        rootVersion: latest,
        roles: root.signed.roles,
        rootKeysHeld: row.roleKeys.root.length > 0,
        components: Object.keys(row.roleKeys.components),
        snapshotVersion: timestamp.signed.meta["snapshot.json"].version,
        timestamp: { version: timestamp.signed.version, expires: timestamp.signed.expires },
        rootSigningPending: row.pendingRoot !== null,
        // Roles whose new keys wait for the pending root (bulwark tuf rotate with offline root keys).
        rotationPending: Object.keys(row.pendingRotation?.roleKeys ?? {}),
      };
    },
  );

  app.post<{ Params: { id: string }; Body: { rootKeys?: string[]; threshold?: number } }>(
    "/api/v1/products/:id/tuf/root/sign-request",
    {
      config: { auth: { permission: "tuf:manage", productParam: "id" } },
      schema: {
        params: ID_PARAMS,
        body: {
          type: "object",
          additionalProperties: false,
          properties: {
            rootKeys: {
              type: "array",
              minItems: 2,
              maxItems: 32,
              items: { type: "string", maxLength: 4096 },
            },
            threshold: { type: "integer", minimum: 1, maximum: 16 },
          },
        },
      },
    },
    async (request) => {
      await productOrNotFound(deps, request.params.id);
      return requestRootSigning(deps, request.params.id, request.body ?? {}, actorOf(request.principal));
    },
  );

  app.get<{ Params: { id: string } }>(
    "/api/v1/products/:id/tuf/root/sign-request",
    { config: { auth: { permission: "tuf:manage", productParam: "id" } }, schema: { params: ID_PARAMS } },
    async (request) => {
      await productOrNotFound(deps, request.params.id);
      const pending =
        (await tufRepositoryRow(deps.store, request.params.id)) &&
        (await pendingRootRequest(deps, request.params.id));
      if (!pending) throw new BulwarkError("BW_ERR_NOT_FOUND", "no root signing request is pending");
      return pending;
    },
  );

  app.post<{ Params: { id: string }; Body: { role: RotateRole } }>(
    "/api/v1/products/:id/tuf/rotate",
    {
      config: { auth: { permission: "tuf:manage", productParam: "id" } },
      schema: {
        params: ID_PARAMS,
        body: {
          type: "object",
          additionalProperties: false,
          required: ["role"],
          properties: { role: { type: "string", enum: [...ROTATE_ROLES] } },
        },
      },
    },
    async (request) => {
      await productOrNotFound(deps, request.params.id);
      return rotateKeys(deps, request.params.id, request.body.role, actorOf(request.principal));
    },
  );

  app.post<{ Params: { id: string }; Body: { keyid: string; sig: string } }>(
    "/api/v1/products/:id/tuf/root/signatures",
    {
      config: { auth: { permission: "tuf:manage", productParam: "id" } },
      schema: {
        params: ID_PARAMS,
        body: {
          type: "object",
          additionalProperties: false,
          required: ["keyid", "sig"],
          properties: {
            keyid: { type: "string", pattern: "^[0-9a-f]{64}$" },
            sig: { type: "string", pattern: "^[0-9a-f]{2,16384}$" },
          },
        },
      },
    },
    async (request) => {
      await productOrNotFound(deps, request.params.id);
      if (!(await tufRepositoryRow(deps.store, request.params.id)))
        throw new BulwarkError("BW_ERR_CONFLICT", "no root signing request is pending; create one first");
      return importRootSignature(deps, request.params.id, request.body, actorOf(request.principal));
    },
  );
}
