import { BulwarkError } from "@bulwark/sdk/errors";
import type { FastifyInstance } from "fastify";
import { listSboms } from "../software/sboms.ts";
import type { Queryable, Store } from "../store/store.ts";
import { audited, byOf } from "./audited.ts";
import { listReleases, productById } from "./product-source.ts";
import { addTestRecord, TEST_KINDS, TEST_OUTCOMES, type TestInput, testRecords } from "./testing.ts";

const PRODUCT = {
  type: "object",
  required: ["id"],
  properties: { id: { type: "string", format: "uuid" } },
} as const;

/** The platform's own checks, as records: each SBOM's minimum-elements check (NTIA, BSI TR-03183-2). */
export async function platformChecks(db: Queryable, productId: string) {
  const out = [];
  for (const release of await listReleases(db, productId))
    for (const sbom of await listSboms(db, release.id))
      out.push({
        id: `sbom-check:${sbom.id}`,
        releaseId: release.id,
        kind: "sbom-check",
        tool: "bulwark SBOM minimum elements (NTIA 2021, BSI TR-03183-2 v2.1.0)",
        outcome: sbom.minimumElements.bsiConforms ? "pass" : "partial",
        summary: `${release.version}: ${sbom.format} ${sbom.specVersion}, ${sbom.components} components, ${sbom.minimumElements.gaps.length} gap(s)`,
        performedAt: sbom.createdAt,
        source: "platform",
      });
  return out;
}

/** Security testing records (issue #16 item 7; CRA Annex I Part II (3)). */
export async function testingRoutes(app: FastifyInstance, store: Store): Promise<void> {
  app.get<{ Params: { id: string } }>(
    "/api/v1/products/:id/test-records",
    { config: { auth: { permission: "cra:read", productParam: "id" } }, schema: { params: PRODUCT } },
    async (request) => {
      if (!(await productById(store, request.params.id)))
        throw new BulwarkError("BW_ERR_NOT_FOUND", "no such product");
      return {
        items: (await testRecords(store, request.params.id)).map((r) => ({ ...r, source: "recorded" })),
        platformChecks: await platformChecks(store, request.params.id),
      };
    },
  );

  app.post<{
    Params: { id: string };
    Body: Omit<TestInput, "performedAt" | "releaseId" | "report"> & {
      releaseId?: string;
      performedAt: string;
      report?: string;
    };
  }>(
    "/api/v1/products/:id/test-records",
    {
      config: { auth: { permission: "cra:write", productParam: "id" } },
      schema: {
        params: PRODUCT,
        body: {
          type: "object",
          additionalProperties: false,
          required: ["kind", "tool", "outcome", "summary", "performedAt"],
          properties: {
            releaseId: { type: "string", format: "uuid" },
            kind: { type: "string", enum: [...TEST_KINDS] },
            tool: { type: "string", minLength: 1, maxLength: 200 },
            outcome: { type: "string", enum: [...TEST_OUTCOMES] },
            summary: { type: "string", minLength: 1, maxLength: 4000 },
            report: { type: "string", minLength: 1, maxLength: 256 * 1024 },
            performedAt: { type: "string", format: "date-time" },
          },
        },
      },
    },
    async (request, reply) => {
      const productId = request.params.id;
      if (!(await productById(store, productId)))
        throw new BulwarkError("BW_ERR_NOT_FOUND", "no such product");
      const b = request.body;
      const performedAt = Date.parse(b.performedAt);
      if (performedAt > Date.now())
        throw new BulwarkError("BW_ERR_VALIDATION", "performedAt is in the future");
      if (b.releaseId && !(await listReleases(store, productId)).some((r) => r.id === b.releaseId))
        throw new BulwarkError("BW_ERR_VALIDATION", "releaseId is not a release of the product");
      const record = await audited(
        store,
        request,
        "cra.test-record.create",
        { type: "product", id: productId },
        (tx) =>
          addTestRecord(
            tx,
            productId,
            { ...b, releaseId: b.releaseId ?? null, report: b.report ?? null, performedAt },
            byOf(request),
          ),
        (r) => ({ id: r.id, kind: r.kind, outcome: r.outcome }),
      );
      reply.code(201);
      return record;
    },
  );
}
