import { BulwarkError } from "@bulwark/sdk/errors";
import { KEY_ALGORITHMS, type KeyAlgorithm, ROOT_KEY_ALGORITHMS } from "@bulwark/sdk/x509/algorithms";
import type { FastifyInstance } from "fastify";
import { appendAudit } from "../audit/audit-log.ts";
import { auditedChange } from "../audit/audited-change.ts";
import { groupByName } from "../fleet/groups.ts";
import { actorOf } from "../http/auth.ts";
import type { Store } from "../store/store.ts";
import { type CertificateAuthority, createCa } from "./ca.ts";
import { importIssuingCa, requestIssuingCa } from "./ca-import.ts";
import { listClaimCas, registerClaimCa } from "./claim.ts";
import type { KeyCustody } from "./key-custody.ts";

export interface CaRoutesContext {
  store: Store;
  custody: KeyCustody;
  cas: () => CertificateAuthority[];
  /** Re-reads the CA list and brings CRLs and OCSP responders up to date. */
  reload: () => Promise<void>;
}

const NAME = {
  type: "string",
  minLength: 1,
  maxLength: 128,
  pattern: "^[A-Za-z0-9][A-Za-z0-9 ._()-]*$",
} as const;
const PEM = { type: "string", minLength: 1, maxLength: 64 * 1024 } as const;

const view = (ca: CertificateAuthority) => ({
  id: ca.id,
  name: ca.name,
  role: ca.role,
  algorithm: ca.algorithm,
  parentId: ca.parentId,
  fingerprint: ca.fingerprint,
  notAfter: new Date(ca.x509.validTo).toISOString(),
  offline: !ca.hasKey,
  pem: ca.pem,
});

/** Certificate authorities: list, create (root or issuing), offline-root import, manufacturing (claim) CAs. */
export function caRoutes(ctx: CaRoutesContext) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get("/api/v1/cas", { config: { auth: { permission: "pki:read" } } }, async () => ({
      items: ctx.cas().map(view),
    }));

    app.post<{
      Body: {
        name: string;
        role: "root" | "device";
        algorithm: KeyAlgorithm;
        parent?: string;
        validityYears?: number;
      };
    }>(
      "/api/v1/cas",
      {
        config: { auth: { permission: "cas:manage" } },
        schema: {
          body: {
            type: "object",
            additionalProperties: false,
            required: ["name", "role", "algorithm"],
            properties: {
              name: NAME,
              role: { type: "string", enum: ["root", "device"] },
              algorithm: { type: "string", enum: [...ROOT_KEY_ALGORITHMS] },
              parent: NAME,
              validityYears: { type: "integer", minimum: 1, maximum: 30 },
            },
          },
        },
      },
      async (request, reply) => {
        const { name, role, algorithm } = request.body;
        // RFC 9909 §1: SLH-DSA (slow, large signatures) is for roots only.
        if (role !== "root" && !KEY_ALGORITHMS.includes(algorithm))
          throw new BulwarkError("BW_ERR_VALIDATION", `${algorithm} is only allowed for a root CA`);
        const parent = request.body.parent
          ? ctx.cas().find((c) => c.name === request.body.parent)
          : undefined;
        if (role === "device" && parent?.role !== "root")
          throw new BulwarkError(
            "BW_ERR_CA_NOT_FOUND",
            "an issuing CA needs `parent`, the name of a root CA",
          );
        if (role === "root" && request.body.parent)
          throw new BulwarkError("BW_ERR_VALIDATION", "a root has no parent");
        const validityYears = request.body.validityYears ?? (role === "root" ? 20 : 10);
        const created = await auditedChange(
          ctx.store,
          request,
          (tx) =>
            createCa(tx, ctx.custody, {
              name,
              role,
              algorithm,
              validityYears,
              pathLength: role === "root" ? 1 : 0,
              parent,
            }),
          (ca) => ({
            action: "ca.create",
            target: { type: "ca", id: ca.id },
            details: { name, role, algorithm, parent: parent?.name ?? null },
          }),
        );
        await ctx.reload();
        reply.code(201);
        return view(created);
      },
    );

    app.post<{ Body: { name: string; algorithm: KeyAlgorithm } }>(
      "/api/v1/ca-requests",
      {
        config: { auth: { permission: "cas:manage" } },
        schema: {
          body: {
            type: "object",
            additionalProperties: false,
            required: ["name", "algorithm"],
            properties: { name: NAME, algorithm: { type: "string", enum: [...KEY_ALGORITHMS] } },
          },
        },
      },
      async (request, reply) => {
        const created = await auditedChange(
          ctx.store,
          request,
          (tx) => requestIssuingCa(tx, ctx.custody, request.body),
          (req) => ({
            action: "ca.request",
            target: { type: "ca-request", id: req.id },
            details: { name: req.name, algorithm: req.algorithm },
          }),
        );
        reply.code(201);
        return created;
      },
    );

    app.post<{ Params: { id: string }; Body: { certificatePem: string; rootPem: string } }>(
      "/api/v1/ca-requests/:id/import",
      {
        config: { auth: { permission: "cas:manage" } },
        schema: {
          params: {
            type: "object",
            required: ["id"],
            properties: { id: { type: "string", format: "uuid" } },
          },
          body: {
            type: "object",
            additionalProperties: false,
            required: ["certificatePem", "rootPem"],
            properties: { certificatePem: PEM, rootPem: PEM },
          },
        },
      },
      async (request, reply) => {
        const ca = await auditedChange(
          ctx.store,
          request,
          (tx) => importIssuingCa(tx, ctx.custody, { requestId: request.params.id, ...request.body }),
          (imported) => ({
            action: "ca.import",
            target: { type: "ca", id: imported.id },
            details: { name: imported.name, root: imported.parentId, fingerprint: imported.fingerprint },
          }),
        );
        await ctx.reload();
        reply.code(201);
        return view(ca);
      },
    );

    app.get("/api/v1/claim-cas", { config: { auth: { permission: "pki:read" } } }, async () => ({
      items: await listClaimCas(ctx.store),
    }));

    app.post<{ Body: { name: string; group: string; certificatePem: string } }>(
      "/api/v1/claim-cas",
      {
        config: { auth: { permission: "cas:manage" } },
        schema: {
          body: {
            type: "object",
            additionalProperties: false,
            required: ["name", "group", "certificatePem"],
            properties: {
              name: NAME,
              group: { type: "string", minLength: 1, maxLength: 63 },
              certificatePem: PEM,
            },
          },
        },
      },
      async (request, reply) => {
        const group = await groupByName(ctx.store, request.body.group);
        if (!group) throw new BulwarkError("BW_ERR_GROUP_NOT_FOUND", `no group named ${request.body.group}`);
        const claimCa = await ctx.store.transaction(async (tx) => {
          const registered = await registerClaimCa(tx, group, request.body);
          await appendAudit(tx, {
            actor: actorOf(request.principal),
            action: "claim-ca.register",
            target: { type: "claim-ca", id: registered.id },
            outcome: "success",
            details: { name: registered.name, group: group.name, fingerprint: registered.fingerprint },
          });
          return registered;
        });
        reply.code(201);
        return claimCa;
      },
    );
  };
}
