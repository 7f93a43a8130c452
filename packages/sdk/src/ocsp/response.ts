import {
  bitString,
  children,
  decode,
  enumerated,
  expect,
  explicit,
  generalizedTime,
  implicitConstructed,
  implicitPrimitive,
  type Node,
  octetString,
  oid,
  readEnumerated,
  readOid,
  readTime,
  readUnsignedInteger,
  seq,
  Tag,
} from "../der/der.ts";
import { OID } from "../der/oids.ts";
import { signatureAlgorithmIdentifier } from "../x509/algorithms.ts";
import type { Signer } from "../x509/certificate.ts";
import { REVOCATION_REASONS, type RevocationReason, reasonName } from "../x509/crl.ts";

/** RFC 6960 §4.2.1 OCSPResponseStatus. */
export const OCSP_RESPONSE_STATUS = {
  successful: 0,
  malformedRequest: 1,
  internalError: 2,
  tryLater: 3,
  sigRequired: 5,
  unauthorized: 6,
} as const;

export type OcspResponseStatus = keyof typeof OCSP_RESPONSE_STATUS;

/** RFC 6960 §4.2.1 CertStatus. */
export type CertStatus =
  | { kind: "good" }
  | { kind: "revoked"; revokedAt: Date; reason: RevocationReason }
  | { kind: "unknown" };

export interface SingleResponse {
  certIdDer: Buffer;
  status: CertStatus;
  thisUpdate: Date;
  nextUpdate: Date;
}

/** RFC 6960 §4.2.1: an unsuccessful response carries only its status. */
export function ocspErrorResponse(status: Exclude<OcspResponseStatus, "successful">): Buffer {
  return seq(enumerated(OCSP_RESPONSE_STATUS[status]));
}

function certStatus(status: CertStatus): Buffer {
  switch (status.kind) {
    case "good":
      return implicitPrimitive(0, Buffer.alloc(0));
    case "revoked": {
      // RFC 6960 §4.2.1 RevokedInfo; reason omitted when unspecified (as RFC 5280 §5.3.1 for CRLs).
      const reason =
        status.reason === "unspecified" ? [] : [explicit(0, enumerated(REVOCATION_REASONS[status.reason]))];
      return implicitConstructed(1, generalizedTime(status.revokedAt), ...reason);
    }
    case "unknown":
      return implicitPrimitive(2, Buffer.alloc(0));
  }
}

/**
 * RFC 6960 §4.2.1/§4.2.2.3: a successful BasicOCSPResponse, responder identified by key hash,
 * signed by `signer`, with the responder certificate and the request nonce (RFC 8954) echoed.
 */
export function buildOcspResponse(options: {
  responderKeyHash: Buffer;
  responderCertDer: Buffer;
  producedAt: Date;
  responses: SingleResponse[];
  nonceExtnValue?: Buffer;
  signer: Signer;
}): Buffer {
  const single = options.responses.map((r) =>
    seq(
      r.certIdDer,
      certStatus(r.status),
      generalizedTime(r.thisUpdate),
      explicit(0, generalizedTime(r.nextUpdate)),
    ),
  );
  const extensions = options.nonceExtnValue
    ? [explicit(1, seq(seq(oid(OID.ocspNonce), octetString(options.nonceExtnValue))))]
    : [];
  const tbs = seq(
    explicit(2, octetString(options.responderKeyHash)),
    generalizedTime(options.producedAt),
    seq(...single),
    ...extensions,
  );
  const algorithm = signatureAlgorithmIdentifier(options.signer.algorithm);
  const basic = seq(
    tbs,
    algorithm,
    bitString(options.signer.sign(tbs)),
    explicit(0, seq(options.responderCertDer)),
  );
  return seq(
    enumerated(OCSP_RESPONSE_STATUS.successful),
    explicit(0, seq(oid(OID.ocspBasic), octetString(basic))),
  );
}

export interface ParsedOcspResponse {
  status: OcspResponseStatus;
  responses: { serialHex: string; status: CertStatus }[];
  nonceExtnValue: Buffer | undefined;
  certificates: Buffer[];
  tbs: Buffer | undefined;
  signatureOid: string | undefined;
  signature: Buffer | undefined;
}

function parseStatus(node: Node): CertStatus {
  if (node.tag === 0x80) return { kind: "good" };
  if (node.tag === 0x82) return { kind: "unknown" };
  const [time, reason] = children(expect(node, 0xa1, "RevokedInfo"));
  // RFC 6960 §4.2.1: revocationReason [0] EXPLICIT CRLReason (ENUMERATED).
  const code = reason ? readEnumerated(children(reason)[0]!) : 0;
  return { kind: "revoked", revokedAt: readTime(time!), reason: reasonName(code) ?? "unspecified" };
}

/** RFC 6960 §4.2.1: the parts of a response a client checks (the signature is checked by the caller). */
export function parseOcspResponse(der: Buffer): ParsedOcspResponse {
  const [statusNode, bytesNode] = children(expect(decode(der), Tag.SEQUENCE, "OCSPResponse"));
  // RFC 6960 §4.2.1: OCSPResponseStatus ::= ENUMERATED.
  const code = readEnumerated(statusNode!);
  const status = (Object.keys(OCSP_RESPONSE_STATUS) as OcspResponseStatus[]).find(
    (s) => OCSP_RESPONSE_STATUS[s] === code,
  );
  if (!status) throw new Error(`unknown OCSP response status ${code}`);
  const empty = { responses: [], nonceExtnValue: undefined, certificates: [], tbs: undefined };
  if (!bytesNode) return { status, ...empty, signatureOid: undefined, signature: undefined };
  const [typeNode, octets] = children(children(expect(bytesNode, 0xa0, "responseBytes"))[0]!);
  if (readOid(typeNode!) !== OID.ocspBasic) throw new Error("not a basic OCSP response");
  const [tbs, alg, sig, certs] = children(decode(expect(octets, Tag.OCTET_STRING, "response").value));
  const fields = children(expect(tbs, Tag.SEQUENCE, "ResponseData"));
  const offset = fields[0]?.tag === 0xa0 ? 1 : 0;
  const [, , list, extensions] = fields.slice(offset);
  const responses = children(list!).map((single) => {
    const [certId, certStatus] = children(single);
    const serial = children(certId!)[3]!;
    return { serialHex: readUnsignedInteger(serial).toString("hex"), status: parseStatus(certStatus!) };
  });
  let nonceExtnValue: Buffer | undefined;
  for (const ext of extensions ? children(children(extensions)[0]!) : []) {
    const parts = children(ext);
    if (readOid(parts[0]!) === OID.ocspNonce) nonceExtnValue = parts[parts.length - 1]!.value;
  }
  return {
    status,
    responses,
    nonceExtnValue,
    certificates: certs ? children(children(certs)[0]!).map((c) => c.bytes) : [],
    tbs: tbs!.bytes,
    signatureOid: readOid(children(alg!)[0]!),
    signature: sig!.value.subarray(1),
  };
}
