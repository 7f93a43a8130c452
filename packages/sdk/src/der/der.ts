/**
 * A lean DER (ITU-T X.690 §10) encoder and a strict, bounds-checked decoder: enough ASN.1 for
 * X.509 certificates, PKCS#10 requests, CRLs, OCSP and PKCS#7, without a schema library on the
 * hot path.
 */

export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DerError";
  }
}

// X.690 §8.1.3: definite-form length octets (short form below 128, else minimal long form).
function lengthOctets(length: number): number {
  if (length < 0x80) return 1;
  let n = 1;
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) n++;
  return n;
}

/** One TLV with a single-octet tag, written into one buffer (this is the issuance hot path). */
export function tlv(tag: number, ...contents: Uint8Array[]): Buffer {
  let length = 0;
  for (const c of contents) length += c.length;
  const header = 1 + lengthOctets(length);
  const out = Buffer.allocUnsafe(header + length);
  out[0] = tag;
  if (header === 2) out[1] = length;
  else {
    out[1] = 0x80 | (header - 2);
    for (let i = header - 1, rest = length; i >= 2; i--, rest = Math.floor(rest / 256)) out[i] = rest & 0xff;
  }
  let offset = header;
  for (const c of contents) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

export const seq = (...items: Uint8Array[]): Buffer => tlv(Tag.SEQUENCE, ...items);

// X.690 §11.6: SET OF components in ascending order of their encodings.
export const setOf = (...items: Buffer[]): Buffer => tlv(Tag.SET, ...[...items].sort(Buffer.compare));

/** Context-specific constructed [n] EXPLICIT wrapper. */
export const explicit = (n: number, inner: Uint8Array): Buffer => tlv(0xa0 | n, inner);

/** Context-specific [n] IMPLICIT primitive. */
export const implicitPrimitive = (n: number, content: Uint8Array): Buffer => tlv(0x80 | n, content);

/** Context-specific [n] IMPLICIT constructed. */
export const implicitConstructed = (n: number, ...content: Uint8Array[]): Buffer => tlv(0xa0 | n, ...content);

// X.690 §8.3: minimal two's complement; callers pass unsigned magnitudes.
export function integer(value: bigint | number | Uint8Array): Buffer {
  let bytes: Buffer;
  if (typeof value === "bigint" || typeof value === "number") {
    let hex = BigInt(value).toString(16);
    if (hex.length % 2) hex = `0${hex}`;
    bytes = Buffer.from(hex, "hex");
  } else {
    bytes = Buffer.from(value);
  }
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0 && (bytes[start + 1]! & 0x80) === 0) start++;
  bytes = bytes.subarray(start);
  if (bytes.length === 0) bytes = Buffer.from([0]);
  if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return tlv(Tag.INTEGER, bytes);
}

export const bool = (value: boolean): Buffer => tlv(Tag.BOOLEAN, Buffer.from([value ? 0xff : 0x00]));
export const nullValue = (): Buffer => Buffer.from([Tag.NULL, 0]);
export const octetString = (value: Uint8Array): Buffer => tlv(Tag.OCTET_STRING, value);
export const utf8 = (value: string): Buffer => tlv(Tag.UTF8_STRING, Buffer.from(value, "utf8"));
export const ia5 = (value: string): Buffer => tlv(Tag.IA5_STRING, Buffer.from(value, "ascii"));
export const enumerated = (value: number): Buffer => {
  const int = integer(value);
  int[0] = Tag.ENUMERATED;
  return int;
};

// X.690 §8.6: BIT STRING with a leading unused-bits octet.
export const bitString = (value: Uint8Array, unusedBits = 0): Buffer =>
  tlv(Tag.BIT_STRING, Buffer.from([unusedBits]), value);

/** A named-bit BIT STRING (e.g. KeyUsage) from bit positions, DER-trimmed (X.690 §11.2.2). */
export function namedBits(bits: number[]): Buffer {
  const max = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(max / 8) + 1);
  for (const bit of bits) bytes[Math.floor(bit / 8)]! |= 0x80 >> (bit % 8);
  const unused = 7 - (max % 8);
  return bitString(bytes, unused);
}

// Encoded OIDs are few and fixed; caching them keeps BigInt arithmetic off the issuance hot path.
const OID_CACHE = new Map<string, Buffer>();
const OID_CACHE_LIMIT = 1024;

// X.690 §8.19: OBJECT IDENTIFIER, base-128 sub-identifiers.
export function oid(dotted: string): Buffer {
  const cached = OID_CACHE.get(dotted);
  if (cached) return cached;
  const encoded = encodeOid(dotted);
  if (OID_CACHE.size < OID_CACHE_LIMIT) OID_CACHE.set(dotted, encoded);
  return encoded;
}

function encodeOid(dotted: string): Buffer {
  const parts = dotted.split(".").map((p) => BigInt(p));
  if (parts.length < 2) throw new DerError(`invalid OID ${dotted}`);
  const arcs = [parts[0]! * 40n + parts[1]!, ...parts.slice(2)];
  const out: number[] = [];
  for (const arc of arcs) {
    const chunk: number[] = [Number(arc & 0x7fn)];
    for (let rest = arc >> 7n; rest > 0n; rest >>= 7n) chunk.unshift(Number((rest & 0x7fn) | 0x80n));
    out.push(...chunk);
  }
  return tlv(Tag.OID, Buffer.from(out));
}

// Issuance encodes the same few seconds over and over (notBefore of a batch, a CA's notAfter).
const TIME_CACHE = new Map<number, Buffer>();
const TIME_CACHE_LIMIT = 64;

// RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, always Zulu, no fractions.
export function time(date: Date): Buffer {
  const second = Math.floor(date.getTime() / 1000);
  let encoded = TIME_CACHE.get(second);
  if (!encoded) {
    encoded = encodeTime(date);
    if (TIME_CACHE.size >= TIME_CACHE_LIMIT) TIME_CACHE.clear();
    TIME_CACHE.set(second, encoded);
  }
  // A copy: callers own what they get (tlv copies it anyway, but a caller may not).
  return Buffer.from(encoded);
}

function encodeTime(date: Date): Buffer {
  const iso = date.toISOString();
  const compact = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  const year = date.getUTCFullYear();
  if (year >= 1950 && year < 2050) return tlv(Tag.UTC_TIME, Buffer.from(compact.slice(2), "ascii"));
  return tlv(Tag.GENERALIZED_TIME, Buffer.from(compact, "ascii"));
}

export const generalizedTime = (date: Date): Buffer => {
  const iso = date.toISOString();
  const compact = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return tlv(Tag.GENERALIZED_TIME, Buffer.from(compact, "ascii"));
};

/** A decoded TLV: `bytes` is the whole encoding, `value` the contents. */
export interface Node {
  tag: number;
  constructed: boolean;
  bytes: Buffer;
  value: Buffer;
}

const MAX_DEPTH = 32;

/** Decodes exactly one TLV at `offset`; throws DerError on anything not strict DER. */
export function decodeAt(buf: Buffer, offset: number): Node {
  if (offset + 2 > buf.length) throw new DerError("truncated header");
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError("high tag numbers are not supported");
  let length = buf[offset + 1]!;
  let header = 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    // X.690 §10.1: definite form only, minimal length octets.
    if (count === 0 || count > 4) throw new DerError("unsupported length form");
    if (offset + 2 + count > buf.length) throw new DerError("truncated length");
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[offset + 2 + i]!;
    if (length < 0x80 || (count > 1 && buf[offset + 2] === 0)) throw new DerError("non-minimal length");
    header += count;
  }
  const end = offset + header + length;
  if (end > buf.length) throw new DerError("length exceeds input");
  return {
    tag,
    constructed: (tag & 0x20) !== 0,
    bytes: buf.subarray(offset, end),
    value: buf.subarray(offset + header, end),
  };
}

/** Decodes a buffer that must hold exactly one TLV. */
export function decode(buf: Buffer): Node {
  const node = decodeAt(buf, 0);
  if (node.bytes.length !== buf.length) throw new DerError("trailing data");
  return node;
}

/** The child TLVs of a constructed node. */
export function children(node: Node, depth = 0): Node[] {
  if (!node.constructed) throw new DerError("not a constructed value");
  if (depth > MAX_DEPTH) throw new DerError("nesting too deep");
  const out: Node[] = [];
  for (let offset = 0; offset < node.value.length; ) {
    const child = decodeAt(node.value, offset);
    out.push(child);
    offset += child.bytes.length;
  }
  return out;
}

/** Children of a node that must have the given tag. */
export function expect(node: Node | undefined, tag: number, what: string): Node {
  if (!node) throw new DerError(`missing ${what}`);
  if (node.tag !== tag)
    throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, got 0x${node.tag.toString(16)}`);
  return node;
}

// Decoded OIDs repeat (algorithms, attribute types, extensions): cache them, bounded.
const READ_OID_CACHE = new Map<string, string>();

export function readOid(node: Node): string {
  expect(node, Tag.OID, "OBJECT IDENTIFIER");
  const key = node.value.toString("latin1");
  const cached = READ_OID_CACHE.get(key);
  if (cached !== undefined) return cached;
  const dotted = decodeOid(node.value);
  if (READ_OID_CACHE.size < OID_CACHE_LIMIT) READ_OID_CACHE.set(key, dotted);
  return dotted;
}

function decodeOid(v: Buffer): string {
  if (v.length === 0 || (v[v.length - 1]! & 0x80) !== 0) throw new DerError("bad OID");
  const arcs: bigint[] = [];
  let acc = 0n;
  for (let i = 0; i < v.length; i++) {
    if (acc === 0n && v[i] === 0x80) throw new DerError("non-minimal OID arc");
    acc = (acc << 7n) | BigInt(v[i]! & 0x7f);
    if ((v[i]! & 0x80) === 0) {
      arcs.push(acc);
      acc = 0n;
    }
  }
  const first = arcs[0]!;
  const head = first < 80n ? [first / 40n, first % 40n] : [2n, first - 80n];
  return [...head, ...arcs.slice(1)].join(".");
}

/** The unsigned magnitude of a DER INTEGER (sign octet removed). */
export function readUnsignedInteger(node: Node): Buffer {
  return unsignedContents(expect(node, Tag.INTEGER, "INTEGER"));
}

// X.690 §8.3 and §8.4: INTEGER and ENUMERATED contents share one encoding.
function unsignedContents(node: Node): Buffer {
  const v = node.value;
  if (v.length === 0) throw new DerError("empty INTEGER");
  if (v.length > 1 && ((v[0] === 0 && (v[1]! & 0x80) === 0) || (v[0] === 0xff && (v[1]! & 0x80) !== 0)))
    throw new DerError("non-minimal INTEGER");
  if (v[0]! & 0x80) throw new DerError("negative INTEGER");
  return v[0] === 0 && v.length > 1 ? v.subarray(1) : v;
}

export function readSmallInteger(node: Node): number {
  return smallNumber(readUnsignedInteger(node));
}

/** A non-negative ENUMERATED (X.690 §8.4), e.g. a CRL reason code or an OCSP response status. */
export function readEnumerated(node: Node): number {
  return smallNumber(unsignedContents(expect(node, Tag.ENUMERATED, "ENUMERATED")));
}

function smallNumber(bytes: Buffer): number {
  if (bytes.length > 6) throw new DerError("INTEGER too large");
  return bytes.reduce((acc, b) => acc * 256 + b, 0);
}

export function readBitString(node: Node): Buffer {
  expect(node, Tag.BIT_STRING, "BIT STRING");
  if (node.value.length === 0 || node.value[0]! > 7) throw new DerError("bad BIT STRING");
  return node.value.subarray(1);
}

const STRING_TAGS = new Set<number>([Tag.UTF8_STRING, Tag.PRINTABLE_STRING, Tag.IA5_STRING, 0x14, 0x1e]);

export function readString(node: Node): string {
  if (!STRING_TAGS.has(node.tag)) throw new DerError(`not a string (tag 0x${node.tag.toString(16)})`);
  if (node.tag === 0x1e) {
    if (node.value.length % 2) throw new DerError("bad BMPString");
    return Buffer.from(node.value).swap16().toString("utf16le");
  }
  return node.value.toString(node.tag === Tag.UTF8_STRING ? "utf8" : "latin1");
}

export function readTime(node: Node): Date {
  const s = node.value.toString("ascii");
  const utc = node.tag === Tag.UTC_TIME ? s.match(/^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/) : null;
  if (utc) {
    const yy = Number(utc[1]);
    return new Date(
      Date.UTC(yy >= 50 ? 1900 + yy : 2000 + yy, Number(utc[2]) - 1, +utc[3]!, +utc[4]!, +utc[5]!, +utc[6]!),
    );
  }
  const gen =
    node.tag === Tag.GENERALIZED_TIME ? s.match(/^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/) : null;
  if (gen)
    return new Date(Date.UTC(Number(gen[1]), Number(gen[2]) - 1, +gen[3]!, +gen[4]!, +gen[5]!, +gen[6]!));
  throw new DerError("bad time");
}
