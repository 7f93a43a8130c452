import type { X509Certificate } from "node:crypto";
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

/** The transport a device connects over: its TLS verdict and the peer certificate it verified. */
export type PeerTransport = Pick<TLSSocket, "authorized" | "getPeerX509Certificate">;

function uriSans(leaf: X509Certificate): string[] {
  return (leaf.subjectAltName ?? "")
    .split(/,\s*/)
    .filter((entry) => entry.startsWith("URI:"))
    .map((entry) => entry.slice(4));
}

/** `AB:CD:…` (Node's `fingerprint256`) as the lowercase hex Bulwark stores for its CAs. */
const hexFingerprint = (x509: X509Certificate) => x509.fingerprint256.replaceAll(":", "").toLowerCase();

/**
 * The device CA that issued `leaf`. After a TLS handshake the peer certificate carries the issuer
 * OpenSSL verified its signature with (`issuerCertificate`): comparing fingerprints is enough and
 * costs no signature check. A transport without that chain (tests driving `handle` directly) gets
 * the signature verified here instead.
 */
function deviceIssuerOf(
  leaf: X509Certificate,
  cas: CertificateAuthority[],
): CertificateAuthority | undefined {
  if (leaf.ca) return undefined;
  const verified = leaf.issuerCertificate;
  if (verified) {
    const fingerprint = hexFingerprint(verified);
    return cas.find((ca) => ca.fingerprint === fingerprint);
  }
  return cas.find((ca) => leaf.checkIssued(ca.x509) && leaf.verify(ca.x509.publicKey));
}

/**
 * The device identity of a TLS peer. TLS has already verified the chain to our root; here we
 * insist that the direct issuer is a device-issuing CA (not the service CA) and read the URI SAN.
 * Validity in time and revocation are checked by the CONNECT steps against the registry.
 * Nothing is cached: reading the already-parsed peer certificate costs about as much as hashing
 * it for a cache key would (measured ~30–45 µs either way).
 */
export function identityOf(
  socket: PeerTransport,
  deviceCas: () => CertificateAuthority[],
): DeviceIdentity | IdentityFailure {
  if (!socket.authorized) return "no-certificate";
  const leaf = socket.getPeerX509Certificate();
  if (!leaf) return "no-certificate";
  // RFC 5280 §4.1.2.4: the direct issuer must be one of the device-issuing CAs.
  if (!deviceIssuerOf(leaf, deviceCas())) return "not-a-device-certificate";
  // The SAN is read from the verified certificate itself, never from what the transport reports.
  const ids = uriSans(leaf)
    .map(deviceIdFromUri)
    .filter((id): id is string => id !== undefined);
  if (ids.length !== 1) return "no-device-uri";
  return { deviceId: ids[0]!, serial: leaf.serialNumber.toLowerCase() };
}
