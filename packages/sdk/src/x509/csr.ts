import type { KeyObject } from "node:crypto";
import {
  bitString,
  children,
  DerError,
  decode,
  expect,
  implicitConstructed,
  integer,
  type Node,
  oid,
  readBitString,
  readOid,
  readSmallInteger,
  seq,
  setOf,
  Tag,
} from "../der/der.ts";
import { OID } from "../der/oids.ts";
import {
  type KeyAlgorithm,
  keyAlgorithmOfSpki,
  publicKeyFromSpki,
  signatureAlgorithmIdentifier,
  signData,
  spkiOf,
  verifySignature,
} from "./algorithms.ts";
import { decodeName, type NameAttribute } from "./name.ts";

/** Largest CSR accepted: an ML-DSA-87 request is ~8 KiB, so 64 KiB leaves room and bounds work. */
export const MAX_CSR_BYTES = 64 * 1024;

export interface RequestedExtension {
  oid: string;
  critical: boolean;
  value: Buffer;
}

export interface ParsedCsr {
  subject: NameAttribute[];
  subjectDer: Buffer;
  spki: Buffer;
  subjectPublicKeyBits: Buffer;
  publicKey: KeyObject;
  keyAlgorithm: KeyAlgorithm | undefined;
  signatureOid: string;
  requestedExtensions: RequestedExtension[];
  attributeOids: string[];
  /** The signed bytes and the signature, for `verifyCsr`. */
  info: Buffer;
  signature: Buffer;
}

export class CsrError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CsrError";
  }
}

/** RFC 2986 §4: builds a signed PKCS#10 CertificationRequest. */
export function buildCsr(options: {
  subjectDer: Buffer;
  algorithm: KeyAlgorithm;
  privateKey: KeyObject;
  publicKey: KeyObject;
  extensions?: Buffer[];
}): Buffer {
  return buildCsrWithSigner({
    subjectDer: options.subjectDer,
    spki: spkiOf(options.publicKey),
    extensions: options.extensions,
    signer: {
      algorithm: options.algorithm,
      sign: (data) => signData(options.algorithm, options.privateKey, data),
    },
  });
}

/** RFC 2986 §4 with any signer (e.g. a key held in custody that never leaves it). */
export function buildCsrWithSigner(options: {
  subjectDer: Buffer;
  spki: Buffer;
  signer: { algorithm: KeyAlgorithm; sign(data: Buffer): Buffer };
  extensions?: Buffer[];
}): Buffer {
  const attributes = options.extensions?.length
    ? [seq(oid(OID.extensionRequest), setOf(seq(...options.extensions)))]
    : [];
  const info = seq(
    integer(0),
    options.subjectDer,
    options.spki,
    implicitConstructed(0, ...[...attributes].sort(Buffer.compare)),
  );
  return seq(
    info,
    signatureAlgorithmIdentifier(options.signer.algorithm),
    bitString(options.signer.sign(info)),
  );
}

/** RFC 2986 §4: parses a DER CertificationRequest strictly; throws CsrError on anything malformed. */
export function parseCsr(der: Buffer): ParsedCsr {
  if (der.length > MAX_CSR_BYTES) throw new CsrError(`request is larger than ${MAX_CSR_BYTES} bytes`);
  try {
    return parseStrict(der);
  } catch (error) {
    if (error instanceof CsrError) throw error;
    throw new CsrError(error instanceof DerError ? error.message : "unparseable request", { cause: error });
  }
}

function parseStrict(der: Buffer): ParsedCsr {
  const [infoNode, algNode, sigNode, ...rest] = children(
    expect(decode(der), Tag.SEQUENCE, "CertificationRequest"),
  );
  if (rest.length) throw new CsrError("unexpected fields after signature");
  const [versionNode, subjectNode, spkiNode, attributesNode, ...more] = children(
    expect(infoNode, Tag.SEQUENCE, "CertificationRequestInfo"),
  );
  if (more.length) throw new CsrError("unexpected fields in CertificationRequestInfo");
  if (readSmallInteger(expect(versionNode, Tag.INTEGER, "version")) !== 0)
    throw new CsrError("version must be 0");
  const spki = expect(spkiNode, Tag.SEQUENCE, "SubjectPublicKeyInfo");
  const [, keyBits] = children(spki);
  let publicKey: KeyObject;
  try {
    publicKey = publicKeyFromSpki(spki.bytes);
  } catch (error) {
    throw new CsrError("the public key cannot be parsed", { cause: error });
  }
  const [sigOidNode, ...sigParams] = children(expect(algNode, Tag.SEQUENCE, "signatureAlgorithm"));
  if (sigParams.length) throw new CsrError("signature algorithm parameters must be absent");
  const attributes = parseAttributes(expect(attributesNode, 0xa0, "attributes"));
  return {
    subject: decodeName(subjectNode!),
    subjectDer: subjectNode!.bytes,
    spki: spki.bytes,
    subjectPublicKeyBits: readBitString(keyBits!),
    publicKey,
    keyAlgorithm: keyAlgorithmOfSpki(spki.bytes),
    signatureOid: readOid(sigOidNode!),
    requestedExtensions: attributes.extensions,
    attributeOids: attributes.oids,
    info: infoNode!.bytes,
    signature: readBitString(sigNode!),
  };
}

function parseAttributes(node: Node): { oids: string[]; extensions: RequestedExtension[] } {
  const oids: string[] = [];
  const extensions: RequestedExtension[] = [];
  for (const attribute of children(node)) {
    const [typeNode, valuesNode] = children(expect(attribute, Tag.SEQUENCE, "Attribute"));
    const type = readOid(typeNode!);
    oids.push(type);
    const values = children(expect(valuesNode, Tag.SET, "Attribute values"));
    if (type !== OID.extensionRequest) continue;
    // RFC 2985 §5.4.2: extensionRequest carries one Extensions value.
    if (values.length !== 1) throw new CsrError("extensionRequest must have exactly one value");
    for (const ext of children(expect(values[0], Tag.SEQUENCE, "Extensions"))) {
      const parts = children(expect(ext, Tag.SEQUENCE, "Extension"));
      const critical = parts.length === 3 && parts[1]!.tag === Tag.BOOLEAN && parts[1]!.value[0] === 0xff;
      const valueNode = expect(parts[parts.length - 1], Tag.OCTET_STRING, "extnValue");
      extensions.push({ oid: readOid(parts[0]!), critical, value: valueNode.value });
    }
  }
  return { oids, extensions };
}

/** RFC 2986 §3 step 3: the request is signed by the private key of the key it carries. */
export function verifyCsr(csr: ParsedCsr): boolean {
  return verifySignature(csr.signatureOid, csr.publicKey, csr.info, csr.signature);
}
