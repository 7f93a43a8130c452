/**
 * A strict reader of the PROXY protocol version 2 header (haproxy's proxy-protocol.txt §2.2), which
 * a TCP load balancer puts before the client's bytes to tell the server the client's own address.
 * Version 1 (the text form, §2.1) is not accepted: a balancer in front of Bulwark sends version 2.
 */

/** §2.2: the constant 12-byte block every version 2 header starts with. */
export const SIGNATURE = Buffer.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
]);
const FIXED = 16;
/**
 * Longest header accepted, bytes. The format allows 16 + 65,535; balancers send the address block
 * (at most 216 bytes) and a few TLVs, so anything longer is refused rather than buffered.
 */
export const MAX_HEADER_BYTES = 4096;

export interface ProxyAddress {
  address: string;
  port: number;
}

/** What the bytes read so far say. `length` is the whole header's, so the caller knows what to skip. */
export type ProxyHeader =
  | { kind: "incomplete" }
  | { kind: "invalid"; reason: string }
  /** LOCAL (a balancer's own health check) or an address family the receiver ignores: use the real endpoints. */
  | { kind: "local"; length: number }
  | { kind: "proxy"; length: number; source: ProxyAddress; destination: ProxyAddress };

const invalid = (reason: string): ProxyHeader => ({ kind: "invalid", reason });

/** Reads a version 2 header from the start of `bytes`; `incomplete` until all of it has arrived. */
export function readProxyHeader(bytes: Buffer): ProxyHeader {
  const prefix = Math.min(bytes.length, SIGNATURE.length);
  // §2: a receiver never guesses; bytes that are not the signature end the connection at once.
  if (!bytes.subarray(0, prefix).equals(SIGNATURE.subarray(0, prefix)))
    return invalid("not a PROXY protocol v2 header");
  if (bytes.length < FIXED) return { kind: "incomplete" };
  const versionCommand = bytes[12]!;
  // §2.2: the version must be 2; commands other than LOCAL (0) and PROXY (1) are dropped.
  if (versionCommand >> 4 !== 2) return invalid(`unsupported version ${versionCommand >> 4}`);
  const command = versionCommand & 0x0f;
  if (command > 1) return invalid(`unassigned command ${command}`);
  const length = FIXED + bytes.readUInt16BE(14);
  if (length > MAX_HEADER_BYTES) return invalid(`header of ${length} bytes exceeds ${MAX_HEADER_BYTES}`);
  if (bytes.length < length) return { kind: "incomplete" };
  const block = bytes.subarray(FIXED, length);
  // §2.2: LOCAL means the real endpoints, and its address block (family included) is ignored.
  if (command === 0) return { kind: "local", length };
  return proxied(bytes[13]!, block, length);
}

/** The PROXY command's address block, by family (high nibble) and transport (low nibble), §2.2. */
function proxied(familyTransport: number, block: Buffer, length: number): ProxyHeader {
  const family = familyTransport >> 4;
  const transport = familyTransport & 0x0f;
  // §2.2: other families and transports "must be rejected as invalid by receivers".
  if (family > 3) return invalid(`unspecified address family ${family}`);
  if (transport > 2) return invalid(`unspecified transport ${transport}`);
  // A balancer relays a TCP stream here: a datagram (UDP, UNIX_DGRAM) header cannot describe it.
  if (transport === 2) return invalid("datagram transport on a stream listener");
  switch (family) {
    case 0: // AF_UNSPEC: "the receiver should ignore address information"
      return tlvsValid(block) ? { kind: "local", length } : invalid("malformed TLV");
    case 1:
      return inet(block, 4, length, transport);
    case 2:
      return inet(block, 16, length, transport);
    default: // AF_UNIX (108-byte paths): no network address to account for; the balancer's is used.
      if (block.length < 216) return invalid("address block shorter than AF_UNIX needs");
      return tlvsValid(block.subarray(216)) ? { kind: "local", length } : invalid("malformed TLV");
  }
}

function inet(block: Buffer, size: 4 | 16, length: number, transport: number): ProxyHeader {
  // §2.2: TCP over IPv4 is 2*4 + 2*2 = 12 bytes, over IPv6 2*16 + 2*2 = 36 bytes.
  const need = 2 * size + 4;
  if (block.length < need) return invalid(`address block of ${block.length} bytes, ${need} needed`);
  if (transport !== 1) return invalid("IP family without the STREAM transport");
  if (!tlvsValid(block.subarray(need))) return invalid("malformed TLV");
  const text = size === 4 ? ipv4 : ipv6;
  return {
    kind: "proxy",
    length,
    source: { address: text(block.subarray(0, size)), port: block.readUInt16BE(2 * size) },
    destination: { address: text(block.subarray(size, 2 * size)), port: block.readUInt16BE(2 * size + 2) },
  };
}

/** §2.2: what follows the addresses is a sequence of type (1), length (2), value; it must fill the header exactly. */
function tlvsValid(tlvs: Buffer): boolean {
  let at = 0;
  while (at < tlvs.length) {
    if (at + 3 > tlvs.length) return false;
    at += 3 + tlvs.readUInt16BE(at + 1);
  }
  return at === tlvs.length;
}

const ipv4 = (b: Buffer) => `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;

/** IPv6 text as Node reports a socket's address (RFC 5952), IPv4-mapped ones as `::ffff:a.b.c.d`. */
function ipv6(b: Buffer): string {
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff)
    return `::ffff:${ipv4(b.subarray(12))}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  // RFC 5952 §4.2: the longest run (of two or more) of zero groups becomes "::".
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLength) [best, bestLength] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  if (best < 0) return groups.join(":");
  return `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLength).join(":")}`;
}
