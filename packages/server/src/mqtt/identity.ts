import { X509Certificate } from "node:crypto";
import type { PeerCertificate, TLSSocket } from "node:tls";
import type { CertificateAuthority } from "../pki/ca.ts";
import { deviceIdFromUri } from "../pki/profiles.ts";

/** Who a connection is, derived from its verified client certificate and nothing else. */
export interface DeviceIdentity {
  deviceId: string;
  serial: string;
}

/** Why a certificate does not name a device; mapped to CONNACK return codes by the broker. */
export type IdentityFailure = "no-certificate" | "not-a-device-certificate" | "no-device-uri";

function uriSans(peer: PeerCertificate): string[] {
  return (peer.subjectaltname ?? "")
    .split(/,\s*/)
    .filter((entry) => entry.startsWith("URI:"))
    .map((entry) => entry.slice(4));
}

/**
 * The device identity of a TLS peer. TLS has already verified the chain to our root; here we
 * insist that the direct issuer is a device-issuing CA (not the service CA) and read the URI SAN.
 */
export function identityOf(
  socket: Pick<TLSSocket, "authorized" | "getPeerCertificate">,
  deviceCas: () => CertificateAuthority[],
): DeviceIdentity | IdentityFailure {
  if (!socket.authorized) return "no-certificate";
  const peer = socket.getPeerCertificate(false);
  if (!peer?.raw) return "no-certificate";
  const leaf = new X509Certificate(peer.raw);
  // Defence in depth over the TLS check: the signature itself must verify under a device CA.
  if (leaf.ca || !deviceCas().some((ca) => leaf.checkIssued(ca.x509) && leaf.verify(ca.x509.publicKey)))
    return "not-a-device-certificate";
  const ids = uriSans(peer)
    .map(deviceIdFromUri)
    .filter((id): id is string => id !== undefined);
  if (ids.length !== 1) return "no-device-uri";
  return { deviceId: ids[0]!, serial: leaf.serialNumber.toLowerCase() };
}
