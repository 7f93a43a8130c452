import { BulwarkError } from "@bulwark/sdk/errors";
import { fromPem } from "@bulwark/sdk/pem";
import { CsrError, parseCsr, verifyCsr } from "@bulwark/sdk/x509/csr";
import type { FastifyInstance } from "fastify";
import { appendAudit } from "../audit/audit-log.ts";
import { actorOf } from "../http/auth.ts";
import type { CertificateAuthority } from "../pki/ca.ts";
import type { KeyCustody } from "../pki/key-custody.ts";
import type { RevocationService } from "../pki/revocation.ts";
import type { Store } from "../store/store.ts";
import { assertCovers, assertWithinCredential } from "./escalation.ts";
import { grantsAllow, grantsOf } from "./grants.ts";
import {
  issueOperatorCertificate,
  listOperatorCertificates,
  revokeOperatorCertificate,
} from "./operator-certificates.ts";
import { userById } from "./users.ts";

/** RFC 2986: a PEM or base64 DER PKCS#10 request, parsed strictly and proof of possession checked. */
function csrSpki(text: string): Buffer {
  try {
    const der = text.includes("-----BEGIN")
      ? fromPem("CERTIFICATE REQUEST", text)
      : Buffer.from(text, "base64");
    const csr = parseCsr(der);
    if (!verifyCsr(csr)) throw new BulwarkError("BW_ERR_CSR_SIGNATURE");
    return csr.spki;
  } catch (error) {
    if (error instanceof BulwarkError) throw error;
    throw new BulwarkError("BW_ERR_CSR_MALFORMED", error instanceof CsrError ? error.message : undefined);
  }
}

export function operatorCertificateRoutes(deps: {
  store: Store;
  custody: KeyCustody;
  operatorCa: () => CertificateAuthority;
  revocation: RevocationService;
}) {
  const { store } = deps;
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.post<{ Body: { csr: string; userId?: string; validityDays?: number } }>(
      "/api/v1/operator-certificates",
      {
        config: { auth: { permission: "operator-certificates:issue" } },
        schema: {
          body: {
            type: "object",
            additionalProperties: false,
            required: ["csr"],
            properties: {
              csr: { type: "string", minLength: 1, maxLength: 100_000 },
              userId: { type: "string", format: "uuid" },
              validityDays: { type: "integer", minimum: 1, maximum: 825 },
            },
          },
        },
      },
      async (request, reply) => {
        const principal = request.principal!;
        const userId = request.body.userId ?? principal.user.id;
        // A certificate for someone else is an account action: administrators only.
        if (userId !== principal.user.id && !grantsAllow(principal.grants, "users:manage"))
          throw new BulwarkError(
            "BW_ERR_FORBIDDEN",
            "issuing a certificate for another user needs users:manage",
          );
        const user = await userById(store, userId);
        if (!user) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such user");
        // The certificate signs in with all of its user's grants: the caller must hold them all
        // (an API key narrower than its owner may not mint one), and a key's may not outlive it.
        const validityDays = request.body.validityDays ?? 90;
        assertCovers(principal.grants, await grantsOf(store, user), "a certificate for this user");
        assertWithinCredential(principal, Date.now() + validityDays * 24 * 3600 * 1000, "a certificate");
        const spki = csrSpki(request.body.csr);
        const issued = await store.transaction(async (tx) => {
          const certificate = await issueOperatorCertificate(tx, deps.custody, {
            ca: deps.operatorCa(),
            user,
            spki,
            validityDays,
            createdBy: principal.user.id,
          });
          await appendAudit(tx, {
            actor: actorOf(principal),
            action: "certificate.issue",
            target: { type: "certificate", id: certificate.serial },
            outcome: "success",
            details: { profile: "operator", userId, notAfter: certificate.notAfter.toISOString() },
          });
          return certificate;
        });
        reply.code(201);
        return {
          serial: issued.serial,
          userId,
          certificatePem: issued.pem,
          chainPem: [issued.pem, deps.operatorCa().pem].join(""),
          notAfter: issued.notAfter.toISOString(),
        };
      },
    );

    app.get(
      "/api/v1/operator-certificates",
      { config: { auth: { permission: "operator-certificates:issue" } } },
      async (request) => {
        const principal = request.principal!;
        const all = await listOperatorCertificates(store);
        return {
          items: grantsAllow(principal.grants, "users:manage")
            ? all
            : all.filter((c) => c.userId === principal.user.id),
        };
      },
    );

    app.delete<{ Params: { serial: string } }>(
      "/api/v1/operator-certificates/:serial",
      {
        config: { auth: { permission: "operator-certificates:issue" } },
        schema: {
          params: { type: "object", properties: { serial: { type: "string", pattern: "^[0-9a-f]{2,40}$" } } },
        },
      },
      async (request, reply) => {
        const principal = request.principal!;
        const mine = (await listOperatorCertificates(store)).find((c) => c.serial === request.params.serial);
        if (!mine || (mine.userId !== principal.user.id && !grantsAllow(principal.grants, "users:manage")))
          throw new BulwarkError("BW_ERR_NOT_FOUND", "no such operator certificate");
        // The revocation service audits it (`certificate.revoke`) and re-signs the Operator CA's CRL.
        await store.transaction((tx) =>
          revokeOperatorCertificate(tx, deps.revocation, request.params.serial, actorOf(principal)),
        );
        reply.code(204);
      },
    );
  };
}
