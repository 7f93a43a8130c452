import { BulwarkError } from "@bulwark/sdk/errors";
import { isContact } from "@bulwark/sdk/software/sbom/generate/model";
import type { FastifyInstance } from "fastify";
import { productScope } from "../access/principal.ts";
import { actorOf } from "../audit/actor.ts";
import { releaseById } from "../products/products.ts";
import type { Store } from "../store/store.ts";
import {
  GENERATOR_FORMATS,
  GENERATOR_INPUTS,
  type GeneratorFormat,
  type GeneratorInput,
} from "./generators.ts";
import { asBulwarkError, type SoftwareMonitor } from "./monitor.ts";
import type { DocumentParser } from "./parsing/document-parser.ts";
import { rawFileName, rawMediaType, rawSbom } from "./sbom-raw.ts";
import { listSboms } from "./sboms.ts";
import { requireKeyBeforeBody } from "./upload.ts";

export const SBOM_TYPES = ["application/json", "application/vnd.cyclonedx+json", "application/spdx+json"];

const RELEASE_PARAMS = {
  type: "object",
  properties: { id: { type: "string", format: "uuid" } },
  required: ["id"],
};

/**
 * SBOM upload (raw CycloneDX / SPDX JSON text, so the engine bounds size and nesting BEFORE parsing)
 * and generation. Its own plugin: JSON bodies here are taken as text, not parsed by Fastify.
 */
export function sbomRoutes(
  store: Store,
  monitor: SoftwareMonitor,
  parser: DocumentParser,
  maxSbomBytes: number,
) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    requireKeyBeforeBody(app, store);
    app.removeContentTypeParser(["application/json", "text/plain"]);
    app.addContentTypeParser(
      [...SBOM_TYPES, "text/plain"],
      { parseAs: "string", bodyLimit: maxSbomBytes },
      (_req, body, done) => done(null, body),
    );

    app.post<{ Params: { id: string }; Body: string }>(
      "/api/v1/releases/:id/sboms",
      {
        config: { auth: { permission: "products:write" } },
        bodyLimit: maxSbomBytes,
        schema: { params: RELEASE_PARAMS },
      },
      async (request, reply) => {
        if (typeof request.body !== "string")
          throw new BulwarkError("BW_ERR_UNSUPPORTED_MEDIA_TYPE", "send the SBOM as JSON");
        const summary = await monitor.attachSbom(request.params.id, request.body, actorOf(request.principal));
        reply.code(201);
        return summary;
      },
    );

    app.get<{ Params: { id: string } }>(
      "/api/v1/releases/:id/sboms",
      { config: { auth: { permission: "products:read" } }, schema: { params: RELEASE_PARAMS } },
      async (request) => {
        if (!(await releaseById(store, request.params.id)))
          throw new BulwarkError("BW_ERR_NOT_FOUND", "no such release");
        return { items: await listSboms(store, request.params.id) };
      },
    );

    // The SBOM exactly as uploaded (the bytes its sha256 names), for whoever may read its product.
    app.get<{ Params: { id: string } }>(
      "/api/v1/sboms/:id/raw",
      { config: { auth: { permission: "products:read", scoped: true } }, schema: { params: RELEASE_PARAMS } },
      async (request, reply) => {
        const raw = await rawSbom(store, request.params.id);
        if (!raw) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such SBOM");
        const scope = productScope(request.principal, "products:read");
        if (scope !== "all" && !scope.includes(raw.productId))
          throw new BulwarkError(
            "BW_ERR_FORBIDDEN",
            "no role of the caller grants products:read on this product",
          );
        if (!raw.bytes)
          throw new BulwarkError(
            "BW_ERR_NOT_FOUND",
            "this SBOM was stored before originals were kept; upload it again to keep its original",
          );
        reply
          .type(rawMediaType(raw.format))
          .header("content-disposition", `attachment; filename="${rawFileName(raw)}"`)
          // RFC 9530 §3: the digest of the representation, the SHA-256 the SBOM is listed with.
          .header("repr-digest", `sha-256=:${Buffer.from(raw.sha256, "hex").toString("base64")}:`);
        return raw.bytes;
      },
    );

    app.post<{
      Querystring: {
        from: GeneratorInput;
        format?: GeneratorFormat;
        name?: string;
        creator: string;
        creatorName?: string;
        distributionLicences?: "declared";
      };
      Body: string;
    }>(
      "/api/v1/sboms/generate",
      {
        config: { auth: { permission: "products:read" } },
        bodyLimit: maxSbomBytes,
        schema: {
          querystring: {
            type: "object",
            additionalProperties: false,
            // BSI TR-03183-2 v2.1.0 §5.2.1: the SBOM's creator is an e-mail address or a URL; the
            // platform cannot know who makes the SBOM, so the caller states it.
            required: ["from", "creator"],
            properties: {
              from: { type: "string", enum: [...GENERATOR_INPUTS] },
              format: { type: "string", enum: [...GENERATOR_FORMATS] },
              name: { type: "string", minLength: 1, maxLength: 128 },
              creator: { type: "string", minLength: 3, maxLength: 256 },
              creatorName: { type: "string", minLength: 1, maxLength: 128 },
              distributionLicences: { type: "string", enum: ["declared"] },
            },
          },
        },
      },
      async (request) => {
        if (typeof request.body !== "string")
          throw new BulwarkError("BW_ERR_VALIDATION", "send the input file as the body");
        const { creator, creatorName, distributionLicences } = request.query;
        if (!isContact(creator))
          throw new BulwarkError(
            "BW_ERR_VALIDATION",
            "creator must be the SBOM creator's e-mail address or http(s) URL (BSI TR-03183-2 §5.2.1)",
          );
        try {
          return await parser.parse({
            kind: "generate",
            from: request.query.from,
            text: request.body,
            subject: request.query.name ?? "project",
            format: request.query.format ?? "cyclonedx",
            statement: {
              creator: { contact: creator, ...(creatorName === undefined ? {} : { name: creatorName }) },
              ...(distributionLicences === undefined ? {} : { distributionLicences }),
            },
          });
        } catch (error) {
          throw asBulwarkError(error);
        }
      },
    );
  };
}
