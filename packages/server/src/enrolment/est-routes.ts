import type { TLSSocket } from "node:tls";
import { oid, seq, setOf } from "@bulwark/sdk/der";
import { BulwarkError } from "@bulwark/sdk/errors";
import { OID } from "@bulwark/sdk/oids";
import { type KeyAlgorithm, signatureAlgorithmOid } from "@bulwark/sdk/x509/algorithms";
import { certsOnly } from "@bulwark/sdk/x509/pkcs7";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { appendAudit } from "../audit/audit-log.ts";
import { type DeviceGroup, GROUP_NAME, groupByName } from "../fleet/groups.ts";
import { crossCertificates } from "../pki/cross-certificate.ts";
import type { EnrolmentContext, EnrolmentResult } from "./enrol.ts";
import { recognise } from "./provisioners.ts";
import { RenewalNotDue, reenrol } from "./reenrol.ts";

const PKCS10 = "application/pkcs10";
const CERTS_ONLY = "application/pkcs7-mime; smime-type=certs-only";
// Base64 of the 64 KiB DER limit (MAX_CSR_BYTES) plus line breaks.
const BODY_LIMIT = 96 * 1024;

/** RFC 7030 §4.2.1: the base64 body, tolerant of line breaks, strict about everything else. */
function decodeBase64Body(request: FastifyRequest): Buffer {
  if (
    !String(request.headers["content-type"] ?? "")
      .toLowerCase()
      .startsWith(PKCS10)
  )
    throw new BulwarkError("BW_ERR_UNSUPPORTED_MEDIA_TYPE", `send ${PKCS10}`);
  const body = request.body;
  if (typeof body !== "string")
    throw new BulwarkError("BW_ERR_CSR_MALFORMED", "the body must be a base64 PKCS#10 request");
  const compact = body.replace(/[\r\n\t ]+/g, "");
  if (!compact || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact) || compact.length % 4 !== 0)
    throw new BulwarkError("BW_ERR_CSR_MALFORMED", "the body is not base64");
  return Buffer.from(compact, "base64");
}

/** CRA Annex I Part I (2)(d): refused enrolments are recorded as possible unauthorised access. */
async function auditRefusal(
  ctx: EnrolmentContext,
  request: FastifyRequest,
  action: string,
  error: unknown,
): Promise<never> {
  if (error instanceof BulwarkError)
    await ctx.store.transaction((tx) =>
      appendAudit(tx, {
        actor: { type: "anonymous" },
        action,
        outcome: error.status === 401 ? "denied" : "failure",
        details: { code: error.code, remoteAddress: request.ip },
      }),
    );
  throw error;
}

// RFC 7030 §4.2.3: certs-only PKCS#7 with the issued certificate, base64.
function sendCertificate(reply: FastifyReply, result: EnrolmentResult): string {
  reply.header("content-transfer-encoding", "base64").type(CERTS_ONLY);
  return certsOnly([result.certificate.der]).toString("base64");
}

/** RFC 7030 §4.5.2 CsrAttrs: the key type (with curve) and signature algorithm a group accepts. */
function csrAttributes(algorithms: KeyAlgorithm[]): Buffer {
  const curve: Partial<Record<KeyAlgorithm, string>> = {
    "ecdsa-p256": OID.prime256v1,
    "ecdsa-p384": OID.secp384r1,
  };
  const items = algorithms.flatMap((a) => {
    const c = curve[a];
    return c
      ? [seq(oid(OID.ecPublicKey), setOf(oid(c))), oid(signatureAlgorithmOid(a))]
      : [oid(signatureAlgorithmOid(a))];
  });
  return seq(...items);
}

function sendCsrAttributes(reply: FastifyReply, group: DeviceGroup | undefined): string {
  const algorithms = group?.provisioningPolicy.keyAlgorithms ?? ["ecdsa-p256"];
  reply.header("content-transfer-encoding", "base64").type("application/csrattrs");
  return csrAttributes(algorithms).toString("base64");
}

/** EST (RFC 7030) under /.well-known/est/. */
export function estRoutes(ctx: EnrolmentContext) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.addContentTypeParser(PKCS10, { parseAs: "string", bodyLimit: BODY_LIMIT }, (_req, body, done) =>
      done(null, body),
    );

    // RFC 7030 §4.1: distribution of CA certificates (and cross-certificates), no authentication required (§4.1.1).
    app.get("/.well-known/est/cacerts", { config: { auth: { public: true } } }, async (_request, reply) => {
      const certificates = [...ctx.cas().map((ca) => ca.der), ...(await crossCertificates(ctx.store))];
      reply.header("content-transfer-encoding", "base64").type("application/pkcs7-mime");
      return certsOnly(certificates).toString("base64");
    });

    // RFC 7030 §4.2.1: simple enrolment by token, registered serial + bootstrap secret, or claim certificate.
    app.post(
      "/.well-known/est/simpleenroll",
      { config: { auth: { public: true } } },
      async (request, reply) => {
        const result = await (async () =>
          recognise(request).enrol(ctx, decodeBase64Body(request), request.log))().catch((error: unknown) =>
          auditRefusal(ctx, request, "device.enrol", error),
        );
        request.log.info(
          { deviceId: result.deviceId, group: result.groupName, serial: result.certificate.serial },
          "device enrolled",
        );
        return sendCertificate(reply, result);
      },
    );

    // RFC 7030 §4.2.2: re-enrolment authenticated by the current certificate (mutual TLS, §3.3.2).
    app.post(
      "/.well-known/est/simplereenroll",
      { config: { auth: { public: true } } },
      async (request, reply) => {
        const result = await (async () =>
          reenrol(ctx, request.raw.socket as TLSSocket, decodeBase64Body(request)))().catch(
          (error: unknown) => {
            if (error instanceof RenewalNotDue) {
              reply.header("retry-after", String(error.retryAfterSeconds));
              throw error;
            }
            return auditRefusal(ctx, request, "certificate.renew", error);
          },
        );
        request.log.info(
          { deviceId: result.deviceId, serial: result.certificate.serial },
          "device certificate renewed",
        );
        return sendCertificate(reply, result);
      },
    );

    // RFC 7030 §4.5: CSR attributes, i.e. the key types and signature algorithms a group's policy accepts.
    // The group is the token's, when the client sends its enrolment token (§3.2.3), else `default`.
    app.get("/.well-known/est/csrattrs", { config: { auth: { public: true } } }, async (request, reply) => {
      const call = request.headers.authorization ? recognise(request) : undefined;
      const group = call?.group ? await call.group(ctx) : await groupByName(ctx.store, "default");
      return sendCsrAttributes(reply, group);
    });

    // RFC 7030 §3.2.2: an arbitrary label selects the group (`/.well-known/est/<group>/csrattrs`).
    app.get<{ Params: { label: string } }>(
      "/.well-known/est/:label/csrattrs",
      {
        config: { auth: { public: true } },
        schema: {
          params: { type: "object", properties: { label: { type: "string", pattern: GROUP_NAME.source } } },
        },
      },
      async (request, reply) => {
        const group = await groupByName(ctx.store, request.params.label);
        if (!group)
          throw new BulwarkError("BW_ERR_GROUP_NOT_FOUND", `no group named ${request.params.label}`);
        return sendCsrAttributes(reply, group);
      },
    );
  };
}
