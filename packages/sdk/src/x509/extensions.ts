import { hash } from "node:crypto";
import { isIP } from "node:net";
import {
  bitString,
  bool,
  explicit,
  ia5,
  implicitConstructed,
  implicitPrimitive,
  integer,
  namedBits,
  nullValue,
  octetString,
  oid,
  seq,
} from "../der/der.ts";
import { OID } from "../der/oids.ts";

export { bitString };

/** RFC 5280 §4.1: Extension ::= SEQUENCE { extnID, critical DEFAULT FALSE, extnValue OCTET STRING }. */
export function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), bool(true), octetString(value)) : seq(oid(id), octetString(value));
}

// RFC 5280 §4.2.1.9
export function basicConstraints(ca: boolean, pathLength?: number): Buffer {
  const inner = ca ? [bool(true), ...(pathLength === undefined ? [] : [integer(pathLength)])] : [];
  return extension(OID.basicConstraints, true, seq(...inner));
}

export const KeyUsageBit = {
  digitalSignature: 0,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
} as const;

// RFC 5280 §4.2.1.3: conforming CAs mark key usage critical.
export function keyUsage(bits: (keyof typeof KeyUsageBit)[]): Buffer {
  return extension(OID.keyUsage, true, namedBits(bits.map((b) => KeyUsageBit[b])));
}

// RFC 5280 §4.2.1.12
export function extKeyUsage(purposes: string[]): Buffer {
  return extension(OID.extKeyUsage, false, seq(...purposes.map(oid)));
}

// RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING value.
export function keyIdentifier(subjectPublicKeyBits: Buffer): Buffer {
  return hash("sha1", subjectPublicKeyBits, "buffer");
}

export function subjectKeyIdentifier(keyId: Buffer): Buffer {
  return extension(OID.subjectKeyIdentifier, false, octetString(keyId));
}

// RFC 5280 §4.2.1.1: keyIdentifier [0] IMPLICIT
export function authorityKeyIdentifier(keyId: Buffer): Buffer {
  return extension(OID.authorityKeyIdentifier, false, seq(implicitPrimitive(0, keyId)));
}

export interface AltNames {
  uris?: string[];
  dns?: string[];
  ips?: string[];
  /** Encoded otherName GeneralNames [0], e.g. `hardwareModuleNameGeneralName` (RFC 4108 §5). */
  otherNames?: Buffer[];
}

// RFC 5280 §4.2.1.6: otherName [0], dNSName [2], uniformResourceIdentifier [6], iPAddress [7] (IMPLICIT).
export function subjectAltName(names: AltNames, critical = false): Buffer {
  const general: Buffer[] = [...(names.otherNames ?? [])];
  for (const dns of names.dns ?? []) general.push(implicitPrimitive(2, Buffer.from(dns, "ascii")));
  for (const uri of names.uris ?? []) general.push(implicitPrimitive(6, Buffer.from(uri, "ascii")));
  for (const ip of names.ips ?? []) general.push(implicitPrimitive(7, ipBytes(ip)));
  return extension(OID.subjectAltName, critical, seq(...general));
}

function ipBytes(ip: string): Buffer {
  const version = isIP(ip);
  if (version === 4) return Buffer.from(ip.split(".").map(Number));
  if (version === 6) {
    const [head = "", tail = ""] = ip.split("::");
    const h = head ? head.split(":") : [];
    const t = tail ? tail.split(":") : [];
    const groups = ip.includes("::") ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t] : h;
    return Buffer.from(groups.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]));
  }
  throw new Error(`not an IP address: ${ip}`);
}

// RFC 5280 §4.2.1.13: DistributionPoint { distributionPoint [0] { fullName [0] GeneralNames } }
export function crlDistributionPoints(urls: string[]): Buffer {
  const points = urls.map((url) =>
    seq(explicit(0, implicitConstructed(0, implicitPrimitive(6, Buffer.from(url, "ascii"))))),
  );
  return extension(OID.crlDistributionPoints, false, seq(...points));
}

// RFC 5280 §4.2.2.1
export function authorityInfoAccess(access: { ocsp?: string[]; caIssuers?: string[] }): Buffer {
  const descriptions = [
    ...(access.ocsp ?? []).map((u) => seq(oid(OID.ocsp), implicitPrimitive(6, Buffer.from(u, "ascii")))),
    ...(access.caIssuers ?? []).map((u) =>
      seq(oid(OID.caIssuers), implicitPrimitive(6, Buffer.from(u, "ascii"))),
    ),
  ];
  return extension(OID.authorityInfoAccess, false, seq(...descriptions));
}

// RFC 6960 §4.2.2.2.1: a delegated responder's certificate is not itself checked by OCSP.
export function ocspNoCheck(): Buffer {
  return extension(OID.ocspNoCheck, false, nullValue());
}

export { ia5 };
