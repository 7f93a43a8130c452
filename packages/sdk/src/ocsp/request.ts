import { createHash } from "node:crypto";
import {
  children,
  DerError,
  decode,
  expect,
  explicit,
  integer,
  type Node,
  nullValue,
  octetString,
  oid,
  readOid,
  readSmallInteger,
  readUnsignedInteger,
  seq,
  Tag,
} from "../der/der.ts";
import { OID } from "../der/oids.ts";
import { spkiPublicKeyBits } from "../x509/certificate.ts";
import { extension } from "../x509/extensions.ts";

/** Largest OCSP request accepted (RFC 6960 requests are a few hundred bytes). */
export const MAX_OCSP_REQUEST_BYTES = 8 * 1024;
/** RFC 8954 §2.1: a nonce is 1 to 32 octets. */
const MAX_NONCE_BYTES = 32;
const MAX_REQUESTS = 16;

export type CertIdHash = "sha1" | "sha256" | "sha384" | "sha512";

const HASH_BY_OID: Record<string, CertIdHash> = {
  [OID.sha1]: "sha1",
  [OID.sha256]: "sha256",
  [OID.sha384]: "sha384",
  [OID.sha512]: "sha512",
};
const OID_BY_HASH: Record<CertIdHash, string> = {
  sha1: OID.sha1,
  sha256: OID.sha256,
  sha384: OID.sha384,
  sha512: OID.sha512,
};

/** RFC 6960 §4.1.1 CertID. */
export interface CertId {
  hash: CertIdHash;
  issuerNameHash: Buffer;
  issuerKeyHash: Buffer;
  serialHex: string;
  /** The exact DER, echoed in the response. */
  der: Buffer;
}

export interface OcspRequest {
  certIds: CertId[];
  /** The whole nonce extension value (RFC 8954 §2.1), echoed verbatim in the response. */
  nonce: Buffer | undefined;
}

export class OcspError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OcspError";
  }
}

/** RFC 6960 §4.1.1: CertID for a certificate given its issuer's subject DER and SPKI. */
export function certIdFor(
  issuerSubjectDer: Buffer,
  issuerSpki: Buffer,
  serialHex: string,
  hash: CertIdHash = "sha1",
) {
  const digest = (data: Buffer) => createHash(hash).update(data).digest();
  return seq(
    seq(oid(OID_BY_HASH[hash]), nullValue()),
    octetString(digest(issuerSubjectDer)),
    octetString(digest(spkiPublicKeyBits(issuerSpki))),
    integer(Buffer.from(serialHex, "hex")),
  );
}

/** RFC 6960 §4.1.1: an unsigned OCSPRequest for one or more CertIDs, with an optional nonce. */
export function buildOcspRequest(certIds: Buffer[], nonce?: Buffer): Buffer {
  const extensions = nonce ? [explicit(2, seq(extension(OID.ocspNonce, false, octetString(nonce))))] : [];
  return seq(seq(seq(...certIds.map((id) => seq(id))), ...extensions));
}

function parseCertId(node: Node): CertId {
  const [algorithm, nameHash, keyHash, serial, ...rest] = children(expect(node, Tag.SEQUENCE, "CertID"));
  if (rest.length) throw new OcspError("unexpected fields in CertID");
  const [algOid] = children(expect(algorithm, Tag.SEQUENCE, "hashAlgorithm"));
  const hash = HASH_BY_OID[readOid(algOid!)];
  if (!hash) throw new OcspError("unsupported CertID hash algorithm");
  return {
    hash,
    issuerNameHash: expect(nameHash, Tag.OCTET_STRING, "issuerNameHash").value,
    issuerKeyHash: expect(keyHash, Tag.OCTET_STRING, "issuerKeyHash").value,
    serialHex: readUnsignedInteger(serial!).toString("hex"),
    der: node.bytes,
  };
}

function parseNonce(extensionsNode: Node): Buffer | undefined {
  for (const ext of children(expect(children(extensionsNode)[0], Tag.SEQUENCE, "Extensions"))) {
    const parts = children(expect(ext, Tag.SEQUENCE, "Extension"));
    if (readOid(parts[0]!) !== OID.ocspNonce) continue;
    const value = expect(parts[parts.length - 1], Tag.OCTET_STRING, "extnValue").value;
    // RFC 8954 §2.1: Nonce ::= OCTET STRING (SIZE(1..32)).
    const inner = expect(decode(value), Tag.OCTET_STRING, "Nonce");
    if (inner.value.length < 1 || inner.value.length > MAX_NONCE_BYTES)
      throw new OcspError("nonce length out of range");
    return value;
  }
  return undefined;
}

/** RFC 6960 §4.1.1: parses an OCSPRequest strictly (signed requests are accepted; the signature is ignored). */
export function parseOcspRequest(der: Buffer): OcspRequest {
  if (der.length > MAX_OCSP_REQUEST_BYTES) throw new OcspError("request too large");
  try {
    const [tbs] = children(expect(decode(der), Tag.SEQUENCE, "OCSPRequest"));
    const fields = children(expect(tbs, Tag.SEQUENCE, "TBSRequest"));
    let i = 0;
    if (fields[i]?.tag === 0xa0) {
      if (readSmallInteger(children(fields[i]!)[0]!) !== 0) throw new OcspError("unsupported version");
      i++;
    }
    if (fields[i]?.tag === 0xa1) i++; // requestorName
    const list = children(expect(fields[i++], Tag.SEQUENCE, "requestList"));
    if (list.length === 0 || list.length > MAX_REQUESTS)
      throw new OcspError("request list size out of range");
    const certIds = list.map((request) =>
      parseCertId(children(expect(request, Tag.SEQUENCE, "Request"))[0]!),
    );
    const nonce = fields[i]?.tag === 0xa2 ? parseNonce(fields[i++]!) : undefined;
    if (i !== fields.length) throw new OcspError("unexpected fields in TBSRequest");
    return { certIds, nonce };
  } catch (error) {
    if (error instanceof OcspError) throw error;
    if (error instanceof DerError) throw new OcspError(error.message);
    throw new OcspError("unparseable request");
  }
}
