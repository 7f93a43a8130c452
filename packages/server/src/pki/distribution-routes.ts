import { BulwarkError } from "@bulwark/sdk/errors";
import type { FastifyInstance } from "fastify";
import type { Store } from "../store/store.ts";
import type { CertificateAuthority } from "./ca.ts";
import { currentCrl } from "./crl-publisher.ts";
import { answerOcsp, type Responder } from "./ocsp-responder.ts";

const OCSP_REQUEST = "application/ocsp-request";
const OCSP_RESPONSE = "application/ocsp-response";
const ID = /^([0-9a-f-]{36})\.(cer|crl)$/;

/**
 * What certificates point relying parties at (AIA and CRL DP, profiles.ts), all public:
 * the issuer certificate, the current CRL of each issuing CA, and the OCSP responder.
 */
export function distributionRoutes(ctx: {
  store: Store;
  cas: () => CertificateAuthority[];
  responders: () => Responder[];
}) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.addContentTypeParser(OCSP_REQUEST, { parseAs: "buffer", bodyLimit: 16 * 1024 }, (_req, body, done) =>
      done(null, body),
    );

    const caFor = (file: string, ext: "cer" | "crl") => {
      const match = ID.exec(file);
      const ca = match && match[2] === ext ? ctx.cas().find((c) => c.id === match[1]) : undefined;
      if (!ca) throw new BulwarkError("BW_ERR_CA_NOT_FOUND");
      return ca;
    };

    // RFC 5280 §4.2.2.1: caIssuers points at a DER certificate (application/pkix-cert, RFC 2585 §4.1).
    app.get<{ Params: { file: string } }>(
      "/pki/ca/:file",
      { config: { auth: { public: true } } },
      async (request, reply) => {
        reply.type("application/pkix-cert");
        return caFor(request.params.file, "cer").der;
      },
    );

    // RFC 5280 §4.2.1.13 / RFC 2585 §4.2: the DER CRL as application/pkix-crl.
    app.get<{ Params: { file: string } }>(
      "/pki/crl/:file",
      { config: { auth: { public: true } } },
      async (request, reply) => {
        const crl = await currentCrl(ctx.store, caFor(request.params.file, "crl").id);
        if (!crl) throw new BulwarkError("BW_ERR_NOT_FOUND", "no CRL published yet");
        reply.type("application/pkix-crl");
        return crl;
      },
    );

    // RFC 6960 Appendix A.1: POST with the DER request as the body.
    app.post("/pki/ocsp", { config: { auth: { public: true } } }, async (request, reply) => {
      if (!Buffer.isBuffer(request.body))
        throw new BulwarkError("BW_ERR_UNSUPPORTED_MEDIA_TYPE", `send ${OCSP_REQUEST}`);
      reply.type(OCSP_RESPONSE);
      return answerOcsp(ctx.store, ctx.responders(), request.body);
    });

    // RFC 6960 Appendix A.1: GET {url}/{url-encoding of base64 encoding of the DER request}.
    app.get<{ Params: { "*": string } }>(
      "/pki/ocsp/*",
      { config: { auth: { public: true } } },
      async (request, reply) => {
        let der: Buffer;
        try {
          der = Buffer.from(decodeURIComponent(request.params["*"]), "base64");
        } catch {
          der = Buffer.alloc(0);
        }
        reply.type(OCSP_RESPONSE);
        return answerOcsp(ctx.store, ctx.responders(), der);
      },
    );
  };
}
