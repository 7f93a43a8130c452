import { BulwarkError } from "@bulwark/sdk/errors";
import { DELTA_POLICIES, type DeltaPolicy } from "@bulwark/sdk/wire/delta";
import type { FastifyInstance } from "fastify";
import { auditedChange } from "../audit/audited-change.ts";
import type { Queryable, Store } from "../store/store.ts";
import { productUpdateSettings, setProductDeltaPolicy } from "./product-updates.ts";
import { productById } from "./products.ts";

const ID_PARAMS = {
  type: "object",
  properties: { id: { type: "string", format: "uuid" } },
  required: ["id"],
} as const;

async function productOrNotFound(db: Queryable, id: string): Promise<void> {
  if (!(await productById(db, id))) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such product");
}

/**
 * A product's update settings (issue #15 item 10): `GET|PUT /api/v1/products/{id}/update`, the
 * default delta policy of its deployments (`bulwark product update PRODUCT_ID --delta …`). A
 * change is audited as `product.update-settings` with the policy before and after.
 */
export async function productUpdateRoutes(app: FastifyInstance, deps: { store: Store }): Promise<void> {
  app.get<{ Params: { id: string } }>(
    "/api/v1/products/:id/update",
    { config: { auth: { permission: "products:read", productParam: "id" } }, schema: { params: ID_PARAMS } },
    async (request) => {
      await productOrNotFound(deps.store, request.params.id);
      return productUpdateSettings(deps.store, request.params.id);
    },
  );

  app.put<{ Params: { id: string }; Body: { delta: DeltaPolicy } }>(
    "/api/v1/products/:id/update",
    {
      // It decides what the product's deployments send: the deployments' own permission.
      config: { auth: { permission: "deployments:write", productParam: "id" } },
      schema: {
        params: ID_PARAMS,
        body: {
          type: "object",
          additionalProperties: false,
          required: ["delta"],
          properties: { delta: { enum: DELTA_POLICIES } },
        },
      },
    },
    async (request) =>
      auditedChange(
        deps.store,
        request,
        async (tx) => {
          await productOrNotFound(tx, request.params.id);
          return setProductDeltaPolicy(
            tx,
            request.params.id,
            request.body.delta,
            request.principal?.user.id ?? null,
          );
        },
        ({ settings, previous }) => ({
          action: "product.update-settings",
          target: { type: "product", id: request.params.id },
          details: { delta: settings.delta, previous },
        }),
      ).then(({ settings }) => settings),
  );
}
