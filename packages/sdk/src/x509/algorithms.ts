import { createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from "node:crypto";
import { children, decode, expect, oid, readOid, seq, Tag } from "../der/der.ts";
import { OID } from "../der/oids.ts";

/** Key algorithms Bulwark issues and accepts (SLH-DSA only for root CAs, RFC 9909). */
export type KeyAlgorithm =
  | "ecdsa-p256"
  | "ecdsa-p384"
  | "ml-dsa-44"
  | "ml-dsa-65"
  | "ml-dsa-87"
  | "slh-dsa-sha2-128s";

/** Algorithms a device key or an issuing CA may use. */
export const KEY_ALGORITHMS: readonly KeyAlgorithm[] = [
  "ecdsa-p256",
  "ecdsa-p384",
  "ml-dsa-44",
  "ml-dsa-65",
  "ml-dsa-87",
];

/** Algorithms a root CA may use: the above plus stateless hash-based SLH-DSA. */
export const ROOT_KEY_ALGORITHMS: readonly KeyAlgorithm[] = [...KEY_ALGORITHMS, "slh-dsa-sha2-128s"];

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export function generateKeyPair(algorithm: KeyAlgorithm): KeyPair {
  switch (algorithm) {
    case "ecdsa-p256":
      return generateKeyPairSync("ec", { namedCurve: "P-256" });
    case "ecdsa-p384":
      return generateKeyPairSync("ec", { namedCurve: "P-384" });
    case "ml-dsa-44":
    case "ml-dsa-65":
    case "ml-dsa-87":
      return generateKeyPairSync(algorithm);
    case "slh-dsa-sha2-128s":
      return generateKeyPairSync(algorithm);
  }
}

/** The Bulwark name of a key's algorithm, or undefined for anything we do not accept. */
export function keyAlgorithmOf(key: KeyObject): KeyAlgorithm | undefined {
  const type = key.asymmetricKeyType as string | undefined;
  if (type === "ec") {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === "prime256v1") return "ecdsa-p256";
    if (curve === "secp384r1") return "ecdsa-p384";
    return undefined;
  }
  if (type === "ml-dsa-44" || type === "ml-dsa-65" || type === "ml-dsa-87" || type === "slh-dsa-sha2-128s")
    return type;
  return undefined;
}

// RFC 5480 §2.1.1 (id-ecPublicKey with a namedCurve), RFC 9881 §2 and RFC 9909 §3 (parameters absent).
const SPKI_ALGORITHMS = new Map<string, KeyAlgorithm>([
  [`${OID.ecPublicKey}|${OID.prime256v1}`, "ecdsa-p256"],
  [`${OID.ecPublicKey}|${OID.secp384r1}`, "ecdsa-p384"],
  [OID.mlDsa44, "ml-dsa-44"],
  [OID.mlDsa65, "ml-dsa-65"],
  [OID.mlDsa87, "ml-dsa-87"],
  [OID.slhDsaSha2_128s, "slh-dsa-sha2-128s"],
]);

/**
 * The Bulwark name of the algorithm a DER SubjectPublicKeyInfo declares, read from its
 * AlgorithmIdentifier (no key object needed), or undefined for anything we do not accept: other
 * curves, explicit EC parameters, parameters where they must be absent. The key bits themselves
 * are validated by whoever loads the key (createPublicKey).
 */
export function keyAlgorithmOfSpki(spki: Buffer): KeyAlgorithm | undefined {
  const [algorithm] = children(expect(decode(spki), Tag.SEQUENCE, "SubjectPublicKeyInfo"));
  const [algorithmOid, parameters, ...extra] = children(expect(algorithm, Tag.SEQUENCE, "algorithm"));
  if (extra.length) return undefined;
  const type = readOid(expect(algorithmOid, Tag.OID, "algorithm"));
  if (type !== OID.ecPublicKey) return parameters ? undefined : SPKI_ALGORITHMS.get(type);
  if (parameters?.tag !== Tag.OID) return undefined;
  return SPKI_ALGORITHMS.get(`${type}|${readOid(parameters)}`);
}

interface SignatureScheme {
  oid: string;
  hash: "sha256" | "sha384" | null;
}

// RFC 5758 §3.2 (ECDSA, hash matched to the curve) and RFC 9881 §2 (ML-DSA, pure mode).
const SCHEMES: Record<KeyAlgorithm, SignatureScheme> = {
  "ecdsa-p256": { oid: OID.ecdsaWithSHA256, hash: "sha256" },
  "ecdsa-p384": { oid: OID.ecdsaWithSHA384, hash: "sha384" },
  "ml-dsa-44": { oid: OID.mlDsa44, hash: null },
  "ml-dsa-65": { oid: OID.mlDsa65, hash: null },
  "ml-dsa-87": { oid: OID.mlDsa87, hash: null },
  // RFC 9909 §3: pure SLH-DSA, parameters absent.
  "slh-dsa-sha2-128s": { oid: OID.slhDsaSha2_128s, hash: null },
};

const SCHEME_BY_OID = new Map(Object.values(SCHEMES).map((s) => [s.oid, s]));

/** AlgorithmIdentifier DER for signatures made with this key algorithm (parameters absent). */
export function signatureAlgorithmIdentifier(algorithm: KeyAlgorithm): Buffer {
  return seq(oid(SCHEMES[algorithm].oid));
}

export function signatureAlgorithmOid(algorithm: KeyAlgorithm): string {
  return SCHEMES[algorithm].oid;
}

export function signData(algorithm: KeyAlgorithm, privateKey: KeyObject, data: Uint8Array): Buffer {
  const scheme = SCHEMES[algorithm];
  // ECDSA signatures are DER (RFC 5480 §2.2.3 / X9.62 Ecdsa-Sig-Value), node:crypto's default; passing
  // the KeyObject itself (not an options object) keeps the hot path about twice as fast.
  return sign(scheme.hash, data, privateKey);
}

/** Verifies a signature given the signature AlgorithmIdentifier OID; unknown OIDs never verify. */
export function verifySignature(
  signatureOid: string,
  publicKey: KeyObject,
  data: Uint8Array,
  signature: Uint8Array,
): boolean {
  const scheme = SCHEME_BY_OID.get(signatureOid);
  if (!scheme) return false;
  try {
    return verify(scheme.hash, data, publicKey, signature);
  } catch {
    return false;
  }
}

export function publicKeyFromSpki(spki: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
}

export function spkiOf(publicKey: KeyObject): Buffer {
  return publicKey.export({ type: "spki", format: "der" });
}
