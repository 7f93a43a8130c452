import { BulwarkError } from "@bulwark/sdk/errors";
import type { FastifyInstance } from "fastify";
import { productScope } from "../access/principal.ts";
import { actorOf } from "../audit/actor.ts";
import { appendAudit } from "../audit/audit-log.ts";
import type { Store } from "../store/store.ts";
import {
  createProduct,
  createRelease,
  listProducts,
  listReleases,
  productById,
  type ReleaseClassification,
  releaseById,
} from "./products.ts";

const NAME = { type: "string", minLength: 1, maxLength: 128, pattern: "^[A-Za-z0-9][A-Za-z0-9._ -]*$" };
const VERSION = { type: "string", minLength: 1, maxLength: 64, pattern: "^[A-Za-z0-9][A-Za-z0-9.+_~-]*$" };
const ID_PARAMS = {
  type: "object",
  properties: { id: { type: "string", format: "uuid" } },
  required: ["id"],
} as const;

export function productRoutes(store: Store) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    // Lists the products the caller may read: all for a global grant, else only its scoped ones.
    app.get(
      "/api/v1/products",
      { config: { auth: { permission: "products:read", scoped: true } } },
      async (request) => {
        const scope = productScope(request.principal, "products:read");
        const all = await listProducts(store);
        return { items: scope === "all" ? all : all.filter((p) => scope.includes(p.id)) };
      },
    );

    app.get<{ Params: { id: string } }>(
      "/api/v1/products/:id",
      {
        config: { auth: { permission: "products:read", productParam: "id" } },
        schema: { params: ID_PARAMS },
      },
      async (request) => {
        const product = await productById(store, request.params.id);
        if (!product) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such product");
        return product;
      },
    );

    app.post<{ Body: { name: string } }>(
      "/api/v1/products",
      {
        config: { auth: { permission: "products:write" } },
        schema: {
          body: {
            type: "object",
            additionalProperties: false,
            required: ["name"],
            properties: { name: NAME },
          },
        },
      },
      async (request, reply) => {
        const product = await store.transaction(async (tx) => {
          const created = await createProduct(tx, request.body.name);
          await appendAudit(tx, {
            actor: actorOf(request.principal),
            action: "product.create",
            target: { type: "product", id: created.id },
            outcome: "success",
            details: { name: created.name },
          });
          return created;
        });
        reply.code(201);
        return product;
      },
    );

    app.get<{ Params: { id: string } }>(
      "/api/v1/products/:id/releases",
      {
        config: { auth: { permission: "products:read", productParam: "id" } },
        schema: { params: ID_PARAMS },
      },
      async (request) => ({ items: await listReleases(store, request.params.id) }),
    );

    app.post<{ Params: { id: string }; Body: { version: string; classification?: ReleaseClassification } }>(
      "/api/v1/products/:id/releases",
      {
        config: { auth: { permission: "products:write", productParam: "id" } },
        schema: {
          params: ID_PARAMS,
          body: {
            type: "object",
            additionalProperties: false,
            required: ["version"],
            properties: {
              version: VERSION,
              classification: { type: "string", enum: ["security", "feature"] },
            },
          },
        },
      },
      async (request, reply) => {
        const release = await store.transaction(async (tx) => {
          const created = await createRelease(
            tx,
            request.params.id,
            request.body.version,
            request.body.classification ?? "feature",
          );
          await appendAudit(tx, {
            actor: actorOf(request.principal),
            action: "release.create",
            target: { type: "release", id: created.id },
            outcome: "success",
            details: { product: created.productName, version: created.version },
          });
          return created;
        });
        reply.code(201);
        return release;
      },
    );

    app.get<{ Params: { id: string } }>(
      "/api/v1/releases/:id",
      { config: { auth: { permission: "products:read" } }, schema: { params: ID_PARAMS } },
      async (request) => {
        const release = await releaseById(store, request.params.id);
        if (!release) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such release");
        return release;
      },
    );
  };
}
