import { BulwarkError } from "@bulwark/sdk/errors";
import { isRevocationReason, REVOCATION_REASONS, type RevocationReason } from "@bulwark/sdk/x509/crl";
import type { FastifyInstance } from "fastify";
import { actorOf } from "../http/auth.ts";
import type { Store } from "../store/store.ts";
import { certificateBySerial, listCertificates } from "./certificate-queries.ts";
import type { RevocationService } from "./revocation.ts";
import type { CertificateKind } from "./revocation-targets.ts";

const SERIAL = { type: "string", pattern: "^[0-9a-fA-F]{2,40}$" } as const;

/**
 * Certificates: list and show every kind (device, operator, service); revoke device certificates
 * only (RFC 5280 §5.3.1 reasons). Operator certificates are revoked through their own route and
 * permission; the server's own certificates are not revoked through the API (issue #13 (8)).
 */
export function certificateRoutes(ctx: { store: Store; revocation: RevocationService }) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get<{
      Querystring: {
        device?: string;
        status?: string;
        kind?: CertificateKind;
        limit?: number;
        offset?: number;
      };
    }>(
      "/api/v1/certificates",
      {
        config: { auth: { permission: "certificates:read" } },
        schema: {
          querystring: {
            type: "object",
            additionalProperties: false,
            properties: {
              device: { type: "string", format: "uuid" },
              status: { type: "string", enum: ["valid", "revoked"] },
              kind: { type: "string", enum: ["device", "operator", "service"] },
              limit: { type: "integer", minimum: 1, maximum: 1000 },
              offset: { type: "integer", minimum: 0 },
            },
          },
        },
      },
      async (request) => ({
        items: await listCertificates(ctx.store, {
          ...request.query,
          limit: request.query.limit ?? 100,
          offset: request.query.offset ?? 0,
        }),
      }),
    );

    app.get<{ Params: { serial: string } }>(
      "/api/v1/certificates/:serial",
      {
        config: { auth: { permission: "certificates:read" } },
        schema: { params: { type: "object", required: ["serial"], properties: { serial: SERIAL } } },
      },
      async (request) => {
        const certificate = await certificateBySerial(ctx.store, request.params.serial.toLowerCase());
        if (!certificate) throw new BulwarkError("BW_ERR_CERTIFICATE_NOT_FOUND");
        return certificate;
      },
    );

    app.post<{ Params: { serial: string }; Body: { reason: RevocationReason } }>(
      "/api/v1/certificates/:serial/revoke",
      {
        config: { auth: { permission: "certificates:revoke" } },
        schema: {
          params: { type: "object", required: ["serial"], properties: { serial: SERIAL } },
          body: {
            type: "object",
            additionalProperties: false,
            required: ["reason"],
            properties: { reason: { type: "string", enum: Object.keys(REVOCATION_REASONS) } },
          },
        },
      },
      async (request) => {
        if (!isRevocationReason(request.body.reason))
          throw new BulwarkError("BW_ERR_VALIDATION", "unknown reason");
        const serial = request.params.serial.toLowerCase();
        const revoked = await ctx.revocation.revoke(
          { kind: "certificate", serial, scope: "device" },
          request.body.reason,
          actorOf(request.principal),
        );
        // The certificate itself is absent only when it was already revoked for keyCompromise.
        const self = revoked.find((r) => r.serial === serial);
        const alsoRevoked = revoked.filter((r) => r.serial !== serial).map((r) => r.serial);
        request.log.info({ serial, reason: request.body.reason, alsoRevoked }, "certificate revoked");
        return {
          serial,
          deviceId: revoked[0]!.deviceId,
          reason: request.body.reason,
          revokedAt: self?.revokedAt ?? null,
          ...(self?.previousReason ? { previousReason: self.previousReason } : {}),
          // keyCompromise: the certificates renewed from this one, revoked with it.
          alsoRevoked,
        };
      },
    );
  };
}
