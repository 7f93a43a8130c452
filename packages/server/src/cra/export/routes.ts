import { BulwarkError } from "@bulwark/sdk/errors";
import type { FastifyInstance } from "fastify";
import { actorOf } from "../../audit/actor.ts";
import { appendAudit } from "../../audit/audit-log.ts";
import type { KeyCustody } from "../../custody/key-custody.ts";
import type { CertificateAuthority } from "../../pki/ca.ts";
import type { Store } from "../../store/store.ts";
import type { PlatformCapabilities } from "../evidence/types.ts";
import { productById } from "../product-source.ts";
import { buildBundle } from "./bundle.ts";
import { documentationSigner } from "./doc-signer.ts";
import { craDocuments } from "./documents.ts";

export interface ExportDeps {
  store: Store;
  custody: KeyCustody;
  capabilities: PlatformCapabilities;
  publicUrl: () => string;
  serviceCa: () => CertificateAuthority;
}

const PRODUCT = {
  type: "object",
  required: ["id"],
  properties: { id: { type: "string", format: "uuid" } },
} as const;

/** `GET /api/v1/products/{id}/cra-export`: the Annex VII / V / II bundle, signed (issue #16 item 8). */
export async function exportRoutes(app: FastifyInstance, deps: ExportDeps): Promise<void> {
  app.get<{ Params: { id: string } }>(
    "/api/v1/products/:id/cra-export",
    { config: { auth: { permission: "cra:read", productParam: "id" } }, schema: { params: PRODUCT } },
    async (request, reply) => {
      const product = await productById(deps.store, request.params.id);
      if (!product) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such product");
      const docs = await craDocuments(deps.store, product, deps.capabilities, deps.publicUrl());
      const signer = await documentationSigner(deps.store, deps.custody, deps.serviceCa());
      const zip = await buildBundle(
        { id: product.id, name: product.name },
        {
          "technical-documentation": {
            title: docs.technicalDocumentation.title,
            body: docs.technicalDocumentation,
          },
          "declaration-of-conformity": { title: docs.declaration.title, body: docs.declaration },
          "user-information": { title: docs.userInformation.title, body: docs.userInformation },
        },
        signer,
        docs.sbomFiles,
      );
      await deps.store.transaction((tx) =>
        appendAudit(tx, {
          actor: actorOf(request.principal),
          action: "cra.export",
          target: { type: "product", id: product.id },
          outcome: "success",
          details: {
            bytes: zip.length,
            declaration: docs.declaration.status,
            sboms: Object.keys(docs.sbomFiles).length,
          },
        }),
      );
      const fileName = `cra-${product.name.replace(/[^A-Za-z0-9._-]+/g, "_")}.zip`;
      // Content negotiation: a client asking for JSON only (the CLI) gets the zip in a JSON envelope.
      const accept = request.headers.accept ?? "";
      if (accept.includes("application/json") && !accept.includes("application/zip"))
        return { fileName, size: zip.length, zipBase64: zip.toString("base64") };
      reply.type("application/zip").header("content-disposition", `attachment; filename="${fileName}"`);
      return zip;
    },
  );
}
