import type { Readable } from "node:stream";
import { BulwarkError } from "@bulwark/sdk/errors";
import type { FastifyInstance } from "fastify";
import { actorOf } from "../audit/actor.ts";
import { appendAudit } from "../audit/audit-log.ts";
import { continueBody } from "../http/expect-continue.ts";
import type { Store } from "../store/store.ts";
import type { ArtifactStore } from "./artifact-store.ts";
import { type ArtifactKind, addArtifact, artifactByTargetFile, artifactsOf } from "./artifacts.ts";
import { RangeNotSatisfiable, requestedRange } from "./byte-ranges.ts";
import { deltaByTargetFile } from "./delta-queries.ts";
import { type DeviceClientDeps, deviceForProduct } from "./device-client.ts";
import { updateRelease } from "./release-updates.ts";

export interface ArtifactRouteDeps extends DeviceClientDeps {
  store: Store;
  artifacts: ArtifactStore;
  maxArtifactBytes: number;
}

/** A target file name: one path segment, no dot first (it becomes a TUF target path part). */
export const ARTIFACT_NAME = "^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$";
const RELEASE_PARAMS = {
  type: "object",
  properties: { id: { type: "string", format: "uuid" } },
  required: ["id"],
} as const;

/** Upload (operators, streamed) and download (devices, mutual TLS, with Range) of release artifacts. */
export async function artifactRoutes(app: FastifyInstance, deps: ArtifactRouteDeps): Promise<void> {
  // The body reaches the handler as the raw stream: it is hashed and stored as it arrives.
  app.addContentTypeParser("application/octet-stream", (_request, payload, done) => done(null, payload));

  app.post<{ Params: { id: string }; Querystring: { name: string; kind?: ArtifactKind } }>(
    "/api/v1/releases/:id/artifacts",
    {
      // The body is asked for (100 Continue) only once the checks below have passed.
      config: { auth: { permission: "artifacts:write" }, deferContinue: true },
      schema: {
        params: RELEASE_PARAMS,
        querystring: {
          type: "object",
          additionalProperties: false,
          required: ["name"],
          properties: {
            name: { type: "string", pattern: ARTIFACT_NAME },
            kind: { type: "string", enum: ["binary", "config"] },
          },
        },
      },
    },
    async (request, reply) => {
      if (request.headers["content-type"]?.split(";")[0]?.trim() !== "application/octet-stream")
        throw new BulwarkError("BW_ERR_UNSUPPORTED_MEDIA_TYPE", "send the file as application/octet-stream");
      const declared = Number(request.headers["content-length"] ?? 0);
      if (declared > deps.maxArtifactBytes)
        throw new BulwarkError(
          "BW_ERR_PAYLOAD_TOO_LARGE",
          `the artifact is larger than ${deps.maxArtifactBytes} bytes`,
        );
      const release = await updateRelease(deps.store, request.params.id);
      if (release.publishedAt) throw new BulwarkError("BW_ERR_CONFLICT", "the release is already published");
      continueBody(request.raw);
      const stored = await deps.artifacts.put(request.body as Readable, deps.maxArtifactBytes);
      const artifact = await deps.store.transaction(async (tx) => {
        const created = await addArtifact(tx, {
          releaseId: release.id,
          name: request.query.name,
          kind: request.query.kind ?? "binary",
          stored,
          createdBy: request.principal?.user.id ?? null,
        });
        await appendAudit(tx, {
          actor: actorOf(request.principal),
          action: "artifact.upload",
          target: { type: "release", id: release.id },
          outcome: "success",
          details: { name: created.name, length: created.length, sha256: created.sha256 },
        });
        return created;
      });
      reply.code(201);
      return artifact;
    },
  );

  app.get<{ Params: { id: string } }>(
    "/api/v1/releases/:id/artifacts",
    { config: { auth: { permission: "products:read" } }, schema: { params: RELEASE_PARAMS } },
    async (request) => {
      await updateRelease(deps.store, request.params.id);
      return { items: await artifactsOf(deps.store, request.params.id) };
    },
  );

  // TUF spec §5.7.3 (consistent snapshots): targets/{dir/}{hash}.{name}, to the product's devices only.
  app.get<{ Params: { productId: string; "*": string } }>(
    "/tuf/:productId/targets/*",
    {
      // Public at the access layer: the device is authenticated inside by its certificate.
      config: { auth: { public: true } },
      schema: {
        params: {
          type: "object",
          properties: {
            productId: { type: "string", format: "uuid" },
            "*": { type: "string", maxLength: 512 },
          },
          required: ["productId"],
        },
      },
    },
    async (request, reply) => {
      const { productId } = request.params;
      await deviceForProduct(deps, request, productId);
      const fileName = request.params["*"].split("/").at(-1) ?? "";
      // A release's full artifact, or one of its deltas (issue #15 item 10): both served the same way.
      const artifact =
        (await artifactByTargetFile(deps.store, productId, fileName)) ??
        (await deltaByTargetFile(deps.store, productId, fileName));
      if (!artifact) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such target");
      const etag = `"${artifact.sha256}"`;
      let range: ReturnType<typeof requestedRange>;
      try {
        range = requestedRange(artifact.length, request.headers as Record<string, string>, etag);
      } catch (error) {
        if (error instanceof RangeNotSatisfiable) reply.header("content-range", `bytes */${error.size}`);
        throw error;
      }
      reply.header("accept-ranges", "bytes").header("etag", etag).type("application/octet-stream");
      if (range) {
        reply
          .code(206)
          .header("content-range", `bytes ${range.start}-${range.end}/${artifact.length}`)
          .header("content-length", range.end - range.start + 1);
      } else reply.header("content-length", artifact.length);
      return reply.send(await deps.artifacts.read(artifact.sha256, range));
    },
  );
}
