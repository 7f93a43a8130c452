import { BulwarkError } from "@bulwark/sdk/errors";
import { certsOnly } from "@bulwark/sdk/x509/pkcs7";
import type { FastifyInstance } from "fastify";
import { appendAudit } from "../audit/audit-log.ts";
import type { CertificateAuthority } from "./ca.ts";
import { type EnrolmentContext, enrolWithToken } from "./enrol.ts";

const PKCS10 = "application/pkcs10";
const CERTS_ONLY = "application/pkcs7-mime; smime-type=certs-only";
// Base64 of the 64 KiB DER limit (MAX_CSR_BYTES) plus line breaks.
const BODY_LIMIT = 96 * 1024;

/** RFC 7030 §4.2.1: the base64 body, tolerant of line breaks, strict about everything else. */
function decodeBase64Body(body: unknown): Buffer {
  if (typeof body !== "string")
    throw new BulwarkError("BW_ERR_CSR_MALFORMED", "the body must be a base64 PKCS#10 request");
  const compact = body.replace(/[\r\n\t ]+/g, "");
  if (!compact || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact) || compact.length % 4 !== 0)
    throw new BulwarkError("BW_ERR_CSR_MALFORMED", "the body is not base64");
  return Buffer.from(compact, "base64");
}

// RFC 7030 §3.2.3: HTTP-based client authentication; the enrolment token is the Basic password.
function tokenFrom(header: string | undefined): string {
  if (!header || !/^Basic /i.test(header))
    throw new BulwarkError("BW_ERR_UNAUTHENTICATED", "send the enrolment token as the HTTP Basic password");
  const decoded = Buffer.from(header.slice(6).trim(), "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) throw new BulwarkError("BW_ERR_UNAUTHENTICATED", "malformed Basic credentials");
  return decoded.slice(colon + 1);
}

/** EST (RFC 7030) under /.well-known/est/. */
export function estRoutes(ctx: EnrolmentContext & { cas: () => CertificateAuthority[] }) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.addContentTypeParser(PKCS10, { parseAs: "string", bodyLimit: BODY_LIMIT }, (_req, body, done) =>
      done(null, body),
    );

    // RFC 7030 §4.1: distribution of CA certificates, no authentication required (§4.1.1).
    app.get("/.well-known/est/cacerts", { config: { auth: { public: true } } }, async (_request, reply) => {
      const bundle = certsOnly(ctx.cas().map((ca) => ca.der));
      reply.header("content-transfer-encoding", "base64").type("application/pkcs7-mime");
      return bundle.toString("base64");
    });

    // RFC 7030 §4.2.1: simple enrolment of clients.
    app.post(
      "/.well-known/est/simpleenroll",
      { config: { auth: { public: true } } },
      async (request, reply) => {
        const token = tokenFrom(request.headers.authorization);
        if (
          !String(request.headers["content-type"] ?? "")
            .toLowerCase()
            .startsWith(PKCS10)
        )
          throw new BulwarkError("BW_ERR_UNSUPPORTED_MEDIA_TYPE", `send ${PKCS10}`);
        const result = await enrolWithToken(ctx, token, decodeBase64Body(request.body)).catch(
          async (error: unknown) => {
            // CRA Annex I Part I (2)(d): refused enrolments are recorded as possible unauthorised access.
            if (error instanceof BulwarkError)
              await ctx.store.transaction((tx) =>
                appendAudit(tx, {
                  actor: { type: "anonymous" },
                  action: "device.enrol",
                  outcome: error.status === 401 ? "denied" : "failure",
                  details: { code: error.code, remoteAddress: request.ip },
                }),
              );
            throw error;
          },
        );
        request.log.info(
          { deviceId: result.deviceId, group: result.groupName, serial: result.certificate.serial },
          "device enrolled",
        );
        // RFC 7030 §4.2.3: certs-only PKCS#7 with the issued certificate, base64.
        reply.header("content-transfer-encoding", "base64").type(CERTS_ONLY);
        return certsOnly([result.certificate.der]).toString("base64");
      },
    );
  };
}
