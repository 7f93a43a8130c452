import { randomFillSync } from "node:crypto";
import { OID } from "@bulwark/sdk/oids";
import { spkiPublicKeyBits } from "@bulwark/sdk/x509/certificate";
import {
  authorityInfoAccess,
  authorityKeyIdentifier,
  basicConstraints,
  crlDistributionPoints,
  extKeyUsage,
  keyIdentifier,
  keyUsage,
  ocspNoCheck,
  subjectAltName,
  subjectKeyIdentifier,
} from "@bulwark/sdk/x509/extensions";

// CSPRNG output drawn in blocks: one randomFillSync per 409 serials instead of one call each.
const SERIAL_RANDOM_BYTES = 10;
const SERIAL_POOL = Buffer.alloc(SERIAL_RANDOM_BYTES * 409);
let poolOffset = SERIAL_POOL.length;

/**
 * A certificate serial: 16 octets, the issuance time in milliseconds (48 bits, big-endian) and then
 * 80 bits of CSPRNG output. RFC 5280 §4.1.2.2: a positive integer of at most 20 octets, unique per
 * CA; CA/B Forum BR §7.1: at least 64 bits of CSPRNG output. The time prefix keeps the serials of a
 * CA in issuance order, so the serial index takes each new certificate at its right-hand edge
 * instead of on a random page (a batch of 500 random serials dirtied ~200 index pages per commit);
 * the notBefore field already tells the issuance time. The prefix's first octet is 0x01 from 2004
 * to 2039 and stays below 0x80 (a positive integer, no padding octet) until the year 6429.
 */
export function randomSerial(now: number = Date.now()): Buffer {
  if (poolOffset === SERIAL_POOL.length) {
    randomFillSync(SERIAL_POOL);
    poolOffset = 0;
  }
  const serial = Buffer.allocUnsafe(6 + SERIAL_RANDOM_BYTES);
  serial.writeUIntBE(now, 0, 6);
  SERIAL_POOL.copy(serial, 6, poolOffset, poolOffset + SERIAL_RANDOM_BYTES);
  SERIAL_POOL.fill(0, poolOffset, poolOffset + SERIAL_RANDOM_BYTES);
  poolOffset += SERIAL_RANDOM_BYTES;
  return serial;
}

/** Backdating that tolerates small clock skew on devices (RFC 5280 leaves notBefore to the CA). */
export const BACKDATE_MS = 5 * 60 * 1000;

export function caExtensions(spki: Buffer, issuerKeyId: Buffer | undefined, pathLength: number): Buffer[] {
  const keyId = keyIdentifier(spkiPublicKeyBits(spki));
  return [
    basicConstraints(true, pathLength),
    keyUsage(["keyCertSign", "cRLSign"]),
    subjectKeyIdentifier(keyId),
    ...(issuerKeyId ? [authorityKeyIdentifier(issuerKeyId)] : []),
  ];
}

/** The stable device identity carried in the certificate: a URI SAN (RFC 5280 §4.2.1.6, RFC 4122 §3). */
export const deviceUri = (deviceId: string): string => `urn:uuid:${deviceId}`;

export function deviceIdFromUri(uri: string): string | undefined {
  const match = /^urn:uuid:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/.exec(uri);
  return match?.[1];
}

/** Where relying parties find an issuing CA's certificate, CRL and OCSP responder (served by pki/distribution-routes.ts). */
export interface PkiUrls {
  ocsp: string;
  caIssuers(caId: string): string;
  crl(caId: string): string;
}

/** `publicUrl` is read on each use: with an ephemeral port it is known only once the listener is up. */
export function pkiUrls(publicUrl: () => string): PkiUrls {
  // Resolved once per base URL and path: URL parsing is measurable on the issuance hot path.
  const resolved = new Map<string, string>();
  const at = (path: string) => {
    const key = `${publicUrl()}|${path}`;
    let url = resolved.get(key);
    if (!url) {
      url = new URL(path, publicUrl()).href;
      if (resolved.size > 1024) resolved.clear();
      resolved.set(key, url);
    }
    return url;
  };
  return {
    get ocsp() {
      return at("/pki/ocsp");
    },
    caIssuers: (caId) => at(`/pki/ca/${caId}.cer`),
    crl: (caId) => at(`/pki/crl/${caId}.crl`),
  };
}

// The fixed parts of the device profile, encoded once.
const END_ENTITY = basicConstraints(false);
const DIGITAL_SIGNATURE = keyUsage(["digitalSignature"]);
const CLIENT_AUTH = extKeyUsage([OID.clientAuth]);

/** Device certificate profile: end entity, clientAuth only, URI SAN with the device id, AIA and CRL DP. */
export function deviceExtensions(
  deviceId: string,
  spki: Buffer,
  issuer: { id: string; keyIdentifier: Buffer },
  urls: PkiUrls,
): Buffer[] {
  return [
    END_ENTITY,
    DIGITAL_SIGNATURE,
    CLIENT_AUTH,
    subjectKeyIdentifier(keyIdentifier(spkiPublicKeyBits(spki))),
    issuerKeyIdentifier(issuer),
    subjectAltName({ uris: [deviceUri(deviceId)] }),
    ...issuerPointers(issuer.id, urls),
  ];
}

// An issuer's AKI is the same in every certificate it issues: encoded once per CA key.
const AUTHORITY_KEY_IDS = new Map<string, Buffer>();

function issuerKeyIdentifier(issuer: { keyIdentifier: Buffer }): Buffer {
  const key = issuer.keyIdentifier.toString("hex");
  let encoded = AUTHORITY_KEY_IDS.get(key);
  if (!encoded) {
    encoded = authorityKeyIdentifier(issuer.keyIdentifier);
    if (AUTHORITY_KEY_IDS.size > 256) AUTHORITY_KEY_IDS.clear();
    AUTHORITY_KEY_IDS.set(key, encoded);
  }
  return encoded;
}

// The AIA and CRL DP of an issuer are the same in every certificate it issues: encoded once per URL set.
const POINTERS = new Map<string, Buffer[]>();

function issuerPointers(caId: string, urls: PkiUrls): Buffer[] {
  const key = `${caId}|${urls.ocsp}`;
  let pointers = POINTERS.get(key);
  if (!pointers) {
    pointers = [
      // RFC 5280 §4.2.2.1 (AIA: OCSP + caIssuers) and §4.2.1.13 (CRL distribution point).
      authorityInfoAccess({ ocsp: [urls.ocsp], caIssuers: [urls.caIssuers(caId)] }),
      crlDistributionPoints([urls.crl(caId)]),
    ];
    if (POINTERS.size > 256) POINTERS.clear();
    POINTERS.set(key, pointers);
  }
  return pointers;
}

/** RFC 6960 §4.2.2.2: a delegated OCSP responder, id-kp-OCSPSigning, not itself checked (no-check). */
export function ocspResponderExtensions(spki: Buffer, issuerKeyId: Buffer): Buffer[] {
  return [
    basicConstraints(false),
    keyUsage(["digitalSignature"]),
    extKeyUsage([OID.ocspSigning]),
    subjectKeyIdentifier(keyIdentifier(spkiPublicKeyBits(spki))),
    authorityKeyIdentifier(issuerKeyId),
    ocspNoCheck(),
  ];
}

/** TLS server certificate profile for the HTTPS and MQTT endpoints. */
export function serverExtensions(
  names: { dns: string[]; ips: string[] },
  spki: Buffer,
  issuerKeyId: Buffer,
): Buffer[] {
  return [
    basicConstraints(false),
    keyUsage(["digitalSignature"]),
    extKeyUsage([OID.serverAuth]),
    subjectKeyIdentifier(keyIdentifier(spkiPublicKeyBits(spki))),
    authorityKeyIdentifier(issuerKeyId),
    subjectAltName(names),
  ];
}
