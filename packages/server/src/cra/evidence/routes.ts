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
  app.get<{ Params: { id: string }; Querystring: { full?: "0" | "1" | "true" | "false" } }>(
    "/api/v1/products/:id/annex-i",
    {
      config: { auth: { permission: "cra:read", productParam: "id" } },
      schema: {
        params: PRODUCT,
        // full=1: (2)(l) walks the whole audit chain rather than the entries after the verified point.
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: { full: { type: "string", enum: ["0", "1", "true", "false"] } },
        },
      },
    },
    async (request) => {
      const product = await productById(store, request.params.id);
      if (!product) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such product");
      const full = request.query.full === "1" || request.query.full === "true";
      const matrix = await evaluateAnnexI(store, product, capabilities, Date.now(), {
        fullAuditVerification: full,
      });
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
