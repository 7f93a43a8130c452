import {
  bitString,
  children,
  decode,
  enumerated,
  expect,
  explicit,
  integer,
  type Node,
  readEnumerated,
  readOid,
  readTime,
  readUnsignedInteger,
  seq,
  Tag,
  time,
} from "../der/der.ts";
import { OID } from "../der/oids.ts";
import { signatureAlgorithmIdentifier } from "./algorithms.ts";
import type { Signer } from "./certificate.ts";
import { authorityKeyIdentifier, extension } from "./extensions.ts";

/** RFC 5280 §5.3.1 CRLReason codes (certificateHold and removeFromCRL are not used: revocation is final). */
export const REVOCATION_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;

export type RevocationReason = keyof typeof REVOCATION_REASONS;

export const isRevocationReason = (value: unknown): value is RevocationReason =>
  typeof value === "string" && Object.hasOwn(REVOCATION_REASONS, value);

export function reasonName(code: number): RevocationReason | undefined {
  return (Object.keys(REVOCATION_REASONS) as RevocationReason[]).find((r) => REVOCATION_REASONS[r] === code);
}

export interface RevokedEntry {
  /** Unsigned serial magnitude, hex. */
  serialHex: string;
  revokedAt: Date;
  reason: RevocationReason;
}

export interface CrlTemplate {
  issuerDer: Buffer;
  issuerKeyId: Buffer;
  thisUpdate: Date;
  nextUpdate: Date;
  crlNumber: bigint;
  revoked: RevokedEntry[];
}

// The crlEntryExtensions of each reason, encoded once: a CRL re-signed on every revocation encodes
// the same few values for each of its (possibly many thousands of) entries.
const REASON_EXTENSIONS = new Map<RevocationReason, Buffer[]>();
function reasonExtensions(reason: RevocationReason): Buffer[] {
  let encoded = REASON_EXTENSIONS.get(reason);
  if (!encoded) {
    // RFC 5280 §5.3.1: the reason code "unspecified" SHOULD be absent rather than encoded.
    encoded =
      reason === "unspecified"
        ? []
        : [seq(extension(OID.crlReason, false, enumerated(REVOCATION_REASONS[reason])))];
    REASON_EXTENSIONS.set(reason, encoded);
  }
  return encoded;
}

function revokedEntry(entry: RevokedEntry): Buffer {
  return seq(
    integer(Buffer.from(entry.serialHex, "hex")),
    time(entry.revokedAt),
    ...reasonExtensions(entry.reason),
  );
}

/** RFC 5280 §5.1: a v2 CRL with AKI and CRL number (§5.2.1, §5.2.3), signed by the issuer. */
export function buildCrl(template: CrlTemplate, signer: Signer): Buffer {
  const algorithm = signatureAlgorithmIdentifier(signer.algorithm);
  const tbs = seq(
    integer(1),
    algorithm,
    template.issuerDer,
    time(template.thisUpdate),
    time(template.nextUpdate),
    // RFC 5280 §5.1.2.6: an empty list is omitted, not encoded empty.
    // One buffer for the entries, not one argument each: a spread of 100,000+ would overflow the stack.
    ...(template.revoked.length ? [seq(Buffer.concat(template.revoked.map(revokedEntry)))] : []),
    explicit(
      0,
      seq(
        authorityKeyIdentifier(template.issuerKeyId),
        extension(OID.crlNumber, false, integer(template.crlNumber)),
      ),
    ),
  );
  return seq(tbs, algorithm, bitString(signer.sign(tbs)));
}

export interface ParsedCrl {
  issuerDer: Buffer;
  thisUpdate: Date;
  nextUpdate: Date | undefined;
  crlNumber: bigint | undefined;
  revoked: RevokedEntry[];
  signatureOid: string;
  tbs: Buffer;
  signature: Buffer;
}

function parseEntry(node: Node): RevokedEntry {
  const [serial, date, extensions] = children(expect(node, Tag.SEQUENCE, "revokedCertificate"));
  let reason: RevocationReason = "unspecified";
  for (const ext of extensions ? children(extensions) : []) {
    const parts = children(ext);
    if (readOid(parts[0]!) !== OID.crlReason) continue;
    const value = decode(expect(parts[parts.length - 1], Tag.OCTET_STRING, "extnValue").value);
    // RFC 5280 §5.3.1: CRLReason ::= ENUMERATED.
    reason = reasonName(readEnumerated(value)) ?? "unspecified";
  }
  return { serialHex: readUnsignedInteger(serial!).toString("hex"), revokedAt: readTime(date!), reason };
}

/** RFC 5280 §5.1: the fields of a CRL (signature checked by the caller against the issuer key). */
export function parseCrl(der: Buffer): ParsedCrl {
  const [tbsNode, algNode, sigNode] = children(expect(decode(der), Tag.SEQUENCE, "CertificateList"));
  const fields = children(expect(tbsNode, Tag.SEQUENCE, "TBSCertList"));
  let i = fields[0]?.tag === Tag.INTEGER ? 1 : 0;
  i++; // signature AlgorithmIdentifier
  const issuerDer = expect(fields[i++], Tag.SEQUENCE, "issuer").bytes;
  const thisUpdate = readTime(fields[i++]!);
  let nextUpdate: Date | undefined;
  if (fields[i] && (fields[i]!.tag === Tag.UTC_TIME || fields[i]!.tag === Tag.GENERALIZED_TIME))
    nextUpdate = readTime(fields[i++]!);
  let revoked: RevokedEntry[] = [];
  if (fields[i]?.tag === Tag.SEQUENCE) revoked = children(fields[i++]!).map(parseEntry);
  let crlNumber: bigint | undefined;
  if (fields[i]?.tag === 0xa0) {
    for (const ext of children(children(fields[i]!)[0]!)) {
      const parts = children(ext);
      if (readOid(parts[0]!) !== OID.crlNumber) continue;
      const value = decode(expect(parts[parts.length - 1], Tag.OCTET_STRING, "extnValue").value);
      crlNumber = BigInt(`0x${readUnsignedInteger(value).toString("hex")}`);
    }
  }
  return {
    issuerDer,
    thisUpdate,
    nextUpdate,
    crlNumber,
    revoked,
    signatureOid: readOid(children(expect(algNode, Tag.SEQUENCE, "signatureAlgorithm"))[0]!),
    tbs: tbsNode!.bytes,
    signature: expect(sigNode, Tag.BIT_STRING, "signature").value.subarray(1),
  };
}
