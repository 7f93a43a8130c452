import { BulwarkError } from "@bulwark/sdk/errors";
import type { ArtifactDigest } from "@bulwark/sdk/signing/detached";
import type { FastifyInstance } from "fastify";
import { actorOf } from "../audit/actor.ts";
import type { KeyCustody } from "../custody/key-custody.ts";
import type { Store } from "../store/store.ts";
import { createSigningKey, listSigningKeys, signArtifact, signingKeyById } from "./signing.ts";

const ID_PARAMS = {
  type: "object",
  properties: { id: { type: "string", format: "uuid" } },
  required: ["id"],
};

const view = ({ publicKeyPem: _pem, ...rest }: Awaited<ReturnType<typeof createSigningKey>>) => rest;

export function signingRoutes(store: Store, custody: KeyCustody) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.post<{ Body: { label: string } }>(
      "/api/v1/signing-keys",
      {
        config: { auth: { permission: "signing-keys:manage" } },
        schema: {
          body: {
            type: "object",
            additionalProperties: false,
            required: ["label"],
            properties: { label: { type: "string", pattern: "^[a-z0-9][a-z0-9._-]{0,62}$" } },
          },
        },
      },
      async (request, reply) => {
        const key = await createSigningKey(store, custody, request.body.label, actorOf(request.principal));
        reply.code(201);
        return { ...view(key), publicKeyPem: key.publicKeyPem };
      },
    );

    app.get("/api/v1/signing-keys", { config: { auth: { permission: "products:read" } } }, async () => ({
      items: (await listSigningKeys(store)).map(view),
    }));

    // Public keys are public: a verifier (device, CI) needs nothing else.
    app.get<{ Params: { id: string } }>(
      "/api/v1/signing-keys/:id/public-key",
      { config: { auth: { public: true } }, schema: { params: ID_PARAMS } },
      async (request, reply) => {
        const key = await signingKeyById(store, request.params.id);
        if (!key) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such signing key");
        reply.type("application/x-pem-file");
        return key.publicKeyPem;
      },
    );

    app.post<{ Params: { id: string }; Body: ArtifactDigest }>(
      "/api/v1/signing-keys/:id/signatures",
      {
        config: { auth: { permission: "releases:sign" } },
        schema: {
          params: ID_PARAMS,
          body: {
            type: "object",
            additionalProperties: false,
            required: ["name", "size", "sha256", "sha512"],
            properties: {
              name: { type: "string", minLength: 1, maxLength: 255 },
              size: { type: "integer", minimum: 0 },
              sha256: { type: "string", pattern: "^[0-9a-f]{64}$" },
              sha512: { type: "string", pattern: "^[0-9a-f]{128}$" },
            },
          },
        },
      },
      async (request, reply) => {
        const doc = await signArtifact(
          store,
          custody,
          request.params.id,
          request.body,
          actorOf(request.principal),
        );
        reply.code(201);
        return doc;
      },
    );
  };
}
