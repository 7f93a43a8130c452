import type { KeyObject } from "node:crypto";
import {
  bitString,
  children,
  DerError,
  decode,
  expect,
  explicit,
  integer,
  readBitString,
  readOid,
  readTime,
  readUnsignedInteger,
  seq,
  Tag,
  time,
} from "../der/der.ts";
import { type KeyAlgorithm, signatureAlgorithmIdentifier, signData } from "./algorithms.ts";

export interface CertificateTemplate {
  /** Unsigned serial magnitude; RFC 5280 §4.1.2.2 allows at most 20 octets. */
  serial: Buffer;
  issuerDer: Buffer;
  subjectDer: Buffer;
  notBefore: Date;
  notAfter: Date;
  spki: Buffer;
  extensions: Buffer[];
}

/** Anything that signs with a known algorithm: a custody key on the server, a local key elsewhere. */
export interface Signer {
  algorithm: KeyAlgorithm;
  sign(data: Buffer): Buffer;
}

export function keySigner(algorithm: KeyAlgorithm, privateKey: KeyObject): Signer {
  return { algorithm, sign: (data) => signData(algorithm, privateKey, data) };
}

/** RFC 5280 §4.1: builds TBSCertificate (v3) and signs it. */
export function buildCertificate(template: CertificateTemplate, signer: Signer): Buffer {
  const tbs = buildTbsCertificate(template, signer.algorithm);
  return signedCertificate(tbs, signer.algorithm, signer.sign(tbs));
}

/** RFC 5280 §4.1.2: the TBSCertificate (v3) that `algorithm` will sign. */
export function buildTbsCertificate(template: CertificateTemplate, algorithm: KeyAlgorithm): Buffer {
  return seq(
    explicit(0, integer(2)),
    integer(template.serial),
    signatureAlgorithmIdentifier(algorithm),
    template.issuerDer,
    seq(time(template.notBefore), time(template.notAfter)),
    template.subjectDer,
    template.spki,
    explicit(3, seq(...template.extensions)),
  );
}

/**
 * RFC 5280 §4.1.1: Certificate = TBSCertificate, signatureAlgorithm (the same identifier as inside
 * the TBS, §4.1.1.2), signatureValue. Split from building so a batch can sign all its TBS in a row.
 */
export function signedCertificate(tbs: Buffer, algorithm: KeyAlgorithm, signature: Buffer): Buffer {
  return seq(tbs, signatureAlgorithmIdentifier(algorithm), bitString(signature));
}

export interface CertificateFields {
  serialHex: string;
  issuerDer: Buffer;
  subjectDer: Buffer;
  notBefore: Date;
  notAfter: Date;
  spki: Buffer;
  subjectPublicKeyBits: Buffer;
  signatureOid: string;
  tbs: Buffer;
  signature: Buffer;
}

/** The fields Bulwark needs from a certificate (issuer/subject as raw DER for exact chaining). */
export function parseCertificate(der: Buffer): CertificateFields {
  const [tbsNode, algNode, sigNode] = children(expect(decode(der), Tag.SEQUENCE, "Certificate"));
  const fields = children(expect(tbsNode, Tag.SEQUENCE, "TBSCertificate"));
  const offset = fields[0]?.tag === 0xa0 ? 1 : 0;
  const [serial, , issuer, validity, subject, spki] = fields.slice(offset);
  const [notBefore, notAfter] = children(expect(validity, Tag.SEQUENCE, "Validity"));
  const [, keyBits] = children(expect(spki, Tag.SEQUENCE, "SubjectPublicKeyInfo"));
  return {
    serialHex: readUnsignedInteger(serial!).toString("hex"),
    issuerDer: expect(issuer, Tag.SEQUENCE, "issuer").bytes,
    subjectDer: expect(subject, Tag.SEQUENCE, "subject").bytes,
    notBefore: readTime(notBefore!),
    notAfter: readTime(notAfter!),
    spki: spki!.bytes,
    subjectPublicKeyBits: readBitString(keyBits!),
    signatureOid: readOid(children(expect(algNode, Tag.SEQUENCE, "signatureAlgorithm"))[0]!),
    tbs: tbsNode!.bytes,
    signature: readBitString(sigNode!),
  };
}

/** RFC 5280 §4.1.2.7: the subjectPublicKey BIT STRING contents of a SubjectPublicKeyInfo. */
export function spkiPublicKeyBits(spki: Buffer): Buffer {
  const [, keyBits] = children(expect(decode(spki), Tag.SEQUENCE, "SubjectPublicKeyInfo"));
  return readBitString(keyBits!);
}

/** One extension of a certificate: RFC 5280 §4.1 Extension, `value` the extnValue contents. */
export interface CertificateExtension {
  oid: string;
  critical: boolean;
  value: Buffer;
}

/** RFC 5280 §4.1.2.9: the extensions of a v3 certificate, the TBS field [3] EXPLICIT (none: empty). */
export function certificateExtensions(der: Buffer): CertificateExtension[] {
  const [tbsNode] = children(expect(decode(der), Tag.SEQUENCE, "Certificate"));
  const wrapper = children(expect(tbsNode, Tag.SEQUENCE, "TBSCertificate")).find((f) => f.tag === 0xa3);
  if (!wrapper) return [];
  const wrapped = children(wrapper);
  if (wrapped.length !== 1) throw new DerError("extensions: expected one Extensions value");
  return children(expect(wrapped[0], Tag.SEQUENCE, "Extensions")).map((ext) => {
    const parts = children(expect(ext, Tag.SEQUENCE, "Extension"));
    const critical = parts.length === 3 && parts[1]!.tag === Tag.BOOLEAN && parts[1]!.value[0] === 0xff;
    const valueNode = expect(parts[parts.length - 1], Tag.OCTET_STRING, "extnValue");
    return { oid: readOid(expect(parts[0], Tag.OID, "extnID")), critical, value: valueNode.value };
  });
}
