import { BulwarkError } from "@bulwark/sdk/errors";
import type { FastifyInstance } from "fastify";
import type { Store } from "../../store/store.ts";
import { productById } from "../product-source.ts";
import { evaluateAnnexI, recordSnapshots, snapshotHistory } from "./engine.ts";
import { type PlatformCapabilities, REQUIREMENT_IDS } from "./types.ts";

const PRODUCT = {
  type: "object",
  required: ["id"],
  properties: { id: { type: "string", format: "uuid" } },
} as const;

/** The Annex I matrix (issue #16 item 3): computed on each request, its changes kept as dated snapshots. */
export async function evidenceRoutes(
  app: FastifyInstance,
  store: Store,
  capabilities: PlatformCapabilities,
): Promise<void> {
  app.get<{ Params: { id: string } }>(
    "/api/v1/products/:id/annex-i",
    { config: { auth: { permission: "cra:read", productParam: "id" } }, schema: { params: PRODUCT } },
    async (request) => {
      const product = await productById(store, request.params.id);
      if (!product) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such product");
      const matrix = await evaluateAnnexI(store, product, capabilities);
      await recordSnapshots(store, matrix);
      return matrix;
    },
  );

  app.get<{ Params: { id: string }; Querystring: { requirement?: string } }>(
    "/api/v1/products/:id/annex-i/history",
    {
      config: { auth: { permission: "cra:read", productParam: "id" } },
      schema: {
        params: PRODUCT,
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: { requirement: { type: "string", enum: [...REQUIREMENT_IDS] } },
        },
      },
    },
    async (request) => {
      const product = await productById(store, request.params.id);
      if (!product) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such product");
      return { items: await snapshotHistory(store, product.id, request.query.requirement) };
    },
  );
}
