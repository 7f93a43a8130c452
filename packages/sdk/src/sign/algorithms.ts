import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";

/** SLH-DSA parameter sets (FIPS 205 §11, Table 2), by their node:crypto key type names. */
export const SLH_DSA_ALGORITHMS = [
  "slh-dsa-sha2-128s",
  "slh-dsa-sha2-128f",
  "slh-dsa-sha2-192s",
  "slh-dsa-sha2-192f",
  "slh-dsa-sha2-256s",
  "slh-dsa-sha2-256f",
  "slh-dsa-shake-128s",
  "slh-dsa-shake-128f",
  "slh-dsa-shake-192s",
  "slh-dsa-shake-192f",
  "slh-dsa-shake-256s",
  "slh-dsa-shake-256f",
] as const;

export const ML_DSA_ALGORITHMS = ["ml-dsa-44", "ml-dsa-65", "ml-dsa-87"] as const;
export const CLASSICAL_ALGORITHMS = ["ecdsa-p256", "ed25519"] as const;

export type SlhDsaAlgorithm = (typeof SLH_DSA_ALGORITHMS)[number];
export type MlDsaAlgorithm = (typeof ML_DSA_ALGORITHMS)[number];
export type ClassicalAlgorithm = (typeof CLASSICAL_ALGORITHMS)[number];

/** Every signature algorithm `@bulwark/sdk/sign` signs and verifies through one interface. */
export type SignatureAlgorithm = ClassicalAlgorithm | MlDsaAlgorithm | SlhDsaAlgorithm;

export const SIGNATURE_ALGORITHMS: readonly SignatureAlgorithm[] = [
  ...CLASSICAL_ALGORITHMS,
  ...ML_DSA_ALGORITHMS,
  ...SLH_DSA_ALGORITHMS,
];

export const isMlDsa = (a: SignatureAlgorithm): a is MlDsaAlgorithm =>
  (ML_DSA_ALGORITHMS as readonly string[]).includes(a);
export const isSlhDsa = (a: SignatureAlgorithm): a is SlhDsaAlgorithm =>
  (SLH_DSA_ALGORITHMS as readonly string[]).includes(a);
export const isSignatureAlgorithm = (a: string): a is SignatureAlgorithm =>
  (SIGNATURE_ALGORITHMS as readonly string[]).includes(a);

/** Whether the algorithm takes a context string (FIPS 204 §5.2, FIPS 205 §10.2: at most 255 bytes). */
export const takesContext = (a: SignatureAlgorithm): boolean => isMlDsa(a) || isSlhDsa(a);

export interface SigningKeyPair {
  algorithm: SignatureAlgorithm;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export function generateSigningKeyPair(algorithm: SignatureAlgorithm): SigningKeyPair {
  const pair =
    algorithm === "ecdsa-p256"
      ? generateKeyPairSync("ec", { namedCurve: "P-256" })
      : // node:crypto names ML-DSA, SLH-DSA and Ed25519 key types exactly as we do.
        generateKeyPairSync(algorithm as "ed25519");
  return { algorithm, ...pair };
}

/** The algorithm of a public or private key, or undefined for a key this module does not accept. */
export function algorithmOfKey(key: KeyObject): SignatureAlgorithm | undefined {
  const type = key.asymmetricKeyType as string | undefined;
  if (type === "ec") return key.asymmetricKeyDetails?.namedCurve === "prime256v1" ? "ecdsa-p256" : undefined;
  return type !== undefined && isSignatureAlgorithm(type) && type !== "ecdsa-p256" ? type : undefined;
}

/** A public key from DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7; RFC 8410, RFC 9881, RFC 9909). */
export function publicKeyFromSpki(spki: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
}

/**
 * A public key from its raw encoding: the uncompressed point for P-256 (SEC 1 §2.3.3), the 32 bytes
 * of RFC 8032 §5.1.5 for Ed25519, `pk` of FIPS 204 §7.2 / FIPS 205 §9.1 for ML-DSA / SLH-DSA.
 */
export function publicKeyFromRaw(algorithm: SignatureAlgorithm, raw: Uint8Array): KeyObject {
  const key = Buffer.from(raw);
  if (algorithm === "ecdsa-p256")
    return createPublicKey({ key, format: "raw-public", asymmetricKeyType: "ec", namedCurve: "prime256v1" });
  return createPublicKey({ key, format: "raw-public", asymmetricKeyType: algorithm });
}

/**
 * A private key from its raw form: the 32-byte scalar for P-256, the 32-byte seed for Ed25519
 * (RFC 8032 §5.1.5), the 32-byte seed ξ for ML-DSA (FIPS 204 Algorithm 6, `ML-DSA.KeyGen_internal`),
 * the `sk` of FIPS 205 §9.1 (SK.seed ‖ SK.prf ‖ PK.seed ‖ PK.root) for SLH-DSA.
 */
export function privateKeyFromRaw(algorithm: SignatureAlgorithm, raw: Uint8Array): KeyObject {
  const key = Buffer.from(raw);
  if (algorithm === "ecdsa-p256")
    return createPrivateKey({
      key,
      format: "raw-private",
      asymmetricKeyType: "ec",
      namedCurve: "prime256v1",
    });
  const format = isMlDsa(algorithm) ? "raw-seed" : "raw-private";
  return createPrivateKey({ key, format, asymmetricKeyType: algorithm });
}

export function spkiOf(publicKey: KeyObject): Buffer {
  return publicKey.export({ type: "spki", format: "der" });
}
