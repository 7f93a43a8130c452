import { createHash, X509Certificate } from "node:crypto";
import type { TLSSocket } from "node:tls";
import type { CertificateAuthority } from "../pki/ca.ts";
import { deviceIdFromUri } from "../pki/profiles.ts";

/** Who a connection is, derived from its verified client certificate and nothing else. */
export interface DeviceIdentity {
  deviceId: string;
  serial: string;
}

/** Why a certificate does not name a device; mapped to CONNACK return codes by the broker. */
export type IdentityFailure = "no-certificate" | "not-a-device-certificate" | "no-device-uri";

function uriSans(leaf: X509Certificate): string[] {
  return (leaf.subjectAltName ?? "")
    .split(/,\s*/)
    .filter((entry) => entry.startsWith("URI:"))
    .map((entry) => entry.slice(4));
}

// Certificates already checked, by SHA-256 of their DER: a reconnecting device (or a storm of
// them) costs a hash instead of a parse and a signature verification. Bounded; oldest out first.
const checked = new Map<string, { identity: DeviceIdentity; caFingerprint: string }>();
const CACHE_LIMIT = 50_000;

function checkCertificate(
  raw: Buffer,
  deviceCas: CertificateAuthority[],
): { identity: DeviceIdentity; caFingerprint: string } | IdentityFailure {
  const leaf = new X509Certificate(raw);
  // Defence in depth over the TLS check: the signature itself must verify under a device CA.
  const issuer = leaf.ca
    ? undefined
    : deviceCas.find((ca) => leaf.checkIssued(ca.x509) && leaf.verify(ca.x509.publicKey));
  if (!issuer) return "not-a-device-certificate";
  // The SAN is read from the verified certificate itself, never from what the transport reports.
  const ids = uriSans(leaf)
    .map(deviceIdFromUri)
    .filter((id): id is string => id !== undefined);
  if (ids.length !== 1) return "no-device-uri";
  return {
    identity: { deviceId: ids[0]!, serial: leaf.serialNumber.toLowerCase() },
    caFingerprint: issuer.fingerprint,
  };
}

/**
 * The device identity of a TLS peer. TLS has already verified the chain to our root; here we
 * insist that the direct issuer is a device-issuing CA (not the service CA) and read the URI SAN.
 * Validity in time and revocation are checked by the CONNECT steps against the registry.
 */
export function identityOf(
  socket: Pick<TLSSocket, "authorized" | "getPeerCertificate">,
  deviceCas: () => CertificateAuthority[],
): DeviceIdentity | IdentityFailure {
  if (!socket.authorized) return "no-certificate";
  const peer = socket.getPeerCertificate(false);
  if (!peer?.raw) return "no-certificate";
  const cas = deviceCas();
  const key = createHash("sha256").update(peer.raw).digest("hex");
  const cached = checked.get(key);
  // A cached answer holds only while the CA that verified it is still an active device CA.
  if (cached && cas.some((ca) => ca.fingerprint === cached.caFingerprint)) return cached.identity;
  const result = checkCertificate(peer.raw, cas);
  if (typeof result === "string") return result;
  if (checked.size >= CACHE_LIMIT) checked.delete(checked.keys().next().value!);
  checked.set(key, result);
  return result.identity;
}
