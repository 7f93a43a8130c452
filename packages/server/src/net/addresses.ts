import { BlockList, isIPv4, isIPv6 } from "node:net";

/** `::ffff:a.b.c.d` (an IPv4 client on a dual-stack listener) is the IPv4 address it carries. */
export function plainAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address;
}

/**
 * The key a client is counted under for per-address caps and rates: its IPv4 address, or the /64
 * of its IPv6 address (one subscriber is routinely given a whole /64, RFC 6177 §2, so counting
 * single IPv6 addresses would let one host open a cap's worth from each of 2^64 addresses).
 */
export function clientKey(address: string): string {
  const plain = plainAddress(address);
  if (!isIPv6(plain)) return plain;
  const [head = "", tail = ""] = plain.split("::");
  const groups = head ? head.split(":") : [];
  if (plain.includes("::")) {
    const rest = tail ? tail.split(":") : [];
    groups.push(...Array<string>(8 - groups.length - rest.length).fill("0"), ...rest);
  }
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(":")}::/64`;
}

/** A CIDR (`10.0.0.0/8`, `2001:db8::/32`) or a single address; throws a readable error otherwise. */
export function parseCidr(text: string): { network: string; prefix: number; family: "ipv4" | "ipv6" } {
  const [network = "", prefixText, extra] = text.trim().split("/");
  const family = isIPv4(network) ? "ipv4" : isIPv6(network) ? "ipv6" : undefined;
  const max = family === "ipv4" ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!family || extra !== undefined || !/^\d{1,3}$/.test(prefixText ?? "0") || prefix > max)
    throw new Error(`${JSON.stringify(text)} is not an IP address or CIDR (e.g. 10.0.0.0/8, 2001:db8::/32)`);
  return { network, prefix, family };
}

/** The set of load balancer addresses whose connections start with a PROXY protocol header. */
export function addressSet(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const text of cidrs) {
    const { network, prefix, family } = parseCidr(text);
    list.addSubnet(network, prefix, family);
  }
  return list;
}

/** Whether `address` (as a socket reports it) is in `set`. */
export function inSet(set: BlockList, address: string): boolean {
  const plain = plainAddress(address);
  return set.check(plain, isIPv4(plain) ? "ipv4" : "ipv6");
}
