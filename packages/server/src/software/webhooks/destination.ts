import { lookup } from "node:dns";
import { BlockList, isIP, type LookupFunction } from "node:net";
import { BulwarkError } from "@bulwark/sdk/errors";

/**
 * What the operator allowed beyond the defaults. Two separate opt-ins because they guard
 * different things: `allowLocal` where a webhook may POST (server-side request forgery),
 * `allowHttp` how (a webhook body names unfixed vulnerabilities of the operator's products, and
 * its HMAC signature protects integrity only: over plain http anyone on the path reads it).
 */
export interface WebhookPolicy {
  /** Loopback, link-local and other local destinations (`--webhook-allow-local`). */
  allowLocal: boolean;
  /** Plain `http://` URLs (`--webhook-allow-http`). */
  allowHttp: boolean;
}

/** The defaults: https only, no local destinations. */
export const STRICT_WEBHOOKS: WebhookPolicy = { allowLocal: false, allowHttp: false };

/**
 * Where a webhook may not POST unless the operator allows local destinations
 * (`--webhook-allow-local`): this host itself, link-local addresses (cloud instance metadata at
 * 169.254.169.254 is the classic server-side request forgery target), unspecified, multicast and
 * reserved space. Private networks (10/8, 172.16/12, 192.168/16, fc00::/7) stay allowed: a
 * self-hosted platform posts to the owner's internal systems. The check runs on every address a
 * name resolves to, at connect time, so a name that later resolves elsewhere (DNS rebinding) is
 * caught too.
 */
const REFUSED = new BlockList();
for (const [network, prefix] of [
  ["0.0.0.0", 8], // "this network" (RFC 791), unspecified
  ["127.0.0.0", 8], // loopback (RFC 1122 §3.2.1.3)
  ["169.254.0.0", 16], // link-local (RFC 3927), instance metadata
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, and broadcast
] as const) {
  REFUSED.addSubnet(network, prefix, "ipv4");
  // The same as IPv4-mapped IPv6 (RFC 4291 §2.5.5.2).
  REFUSED.addSubnet(`::ffff:${network}`, 96 + prefix, "ipv6");
}
for (const [network, prefix] of [
  ["::", 128], // unspecified
  ["::1", 128], // loopback
  ["fe80::", 10], // link-local
  ["ff00::", 8], // multicast
] as const)
  REFUSED.addSubnet(network, prefix, "ipv6");

export function isRefusedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  return REFUSED.check(address, family === 4 ? "ipv4" : "ipv6");
}

/** The host of a webhook URL as an IP literal (brackets removed), or undefined for a name. */
function literalHost(url: URL): string | undefined {
  const host = url.hostname.replace(/^\[|\]$/g, "");
  return isIP(host) ? host : undefined;
}

/** At registration: refuses a URL whose host is a refused address literal or `localhost`. */
export function checkWebhookDestination(url: URL, allowLocal: boolean): void {
  if (allowLocal) return;
  const literal = literalHost(url);
  const local = literal ? isRefusedAddress(literal) : /^localhost\.?$|\.localhost\.?$/i.test(url.hostname);
  if (local)
    throw new BulwarkError(
      "BW_ERR_VALIDATION",
      `webhook destination ${url.hostname} is a local address (start the server with --webhook-allow-local to allow it)`,
    );
}

/** At registration: refuses a plain `http://` URL unless the operator allowed it. CRA Annex I Part I (2)(e). */
export function checkWebhookScheme(url: URL, allowHttp: boolean): void {
  if (url.protocol === "https:" || allowHttp) return;
  throw new BulwarkError(
    "BW_ERR_WEBHOOK_INSECURE_URL",
    `webhook URLs must use https: ${url.protocol}// would send findings in clear text (start the server with --webhook-allow-http to allow plain http)`,
  );
}

/** At delivery: why this URL may not be used under the current policy (scheme), if it may not. */
export function refusedScheme(url: URL, allowHttp: boolean): string | undefined {
  if (url.protocol === "https:" || (url.protocol === "http:" && allowHttp)) return undefined;
  return `plain ${url.protocol.slice(0, -1)} is not allowed (start the server with --webhook-allow-http)`;
}

/** At delivery: why this URL's literal host may not be reached, if it may not. */
export function refusedLiteral(url: URL, allowLocal: boolean): string | undefined {
  const literal = literalHost(url);
  if (allowLocal || literal === undefined || !isRefusedAddress(literal)) return undefined;
  return `destination address ${literal} is not allowed`;
}

/** A `lookup` for node:http(s) that fails when a name resolves to a refused address. */
export function guardedLookup(allowLocal: boolean): LookupFunction {
  return (hostname, options, callback) => {
    lookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, "", 0);
      const list = addresses as { address: string; family: number }[];
      const refused = allowLocal ? undefined : list.find((a) => isRefusedAddress(a.address));
      if (refused)
        return callback(
          Object.assign(new Error(`${hostname} resolves to ${refused.address}, which is not allowed`), {
            code: "BW_DESTINATION_REFUSED",
          }),
          "",
          0,
        );
      if (options.all) return callback(null, list as never, 0);
      const first = list[0]!;
      callback(null, first.address, first.family);
    });
  };
}
