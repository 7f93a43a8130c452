import { type KeyObject, sign as nodeSign, verify as nodeVerify } from "node:crypto";
import { algorithmOfKey, type SignatureAlgorithm, takesContext } from "./algorithms.ts";

export interface SignOptions {
  /** ML-DSA / SLH-DSA context string, at most 255 bytes (FIPS 204 §5.2, FIPS 205 §10.2); empty if absent. */
  context?: Uint8Array;
}

/** Something that signs with one key: a `KeyObject` here, a custody or HSM key on a server. */
export interface Signer {
  readonly algorithm: SignatureAlgorithm;
  sign(message: Uint8Array, options?: SignOptions): Buffer;
}

export class SignatureUsageError extends Error {
  override name = "SignatureUsageError";
}

const MAX_CONTEXT = 255;

// RFC 5758 §3.2: ECDSA P-256 with SHA-256; every other algorithm signs the message itself (pure
// Ed25519, RFC 8032 §5.1.6; pure ML-DSA, FIPS 204 Algorithm 2; pure SLH-DSA, FIPS 205 Algorithm 22).
const hashOf = (algorithm: SignatureAlgorithm): "sha256" | null =>
  algorithm === "ecdsa-p256" ? "sha256" : null;

function keyInput(algorithm: SignatureAlgorithm, key: KeyObject, options: SignOptions | undefined) {
  const context = options?.context;
  if (context === undefined || context.length === 0) return key;
  if (!takesContext(algorithm)) throw new SignatureUsageError(`${algorithm} takes no context string`);
  if (context.length > MAX_CONTEXT) throw new SignatureUsageError("the context string exceeds 255 bytes");
  return { key, context: Buffer.from(context) };
}

function checkKey(algorithm: SignatureAlgorithm, key: KeyObject): void {
  if (algorithmOfKey(key) !== algorithm) throw new SignatureUsageError(`the key is not a ${algorithm} key`);
}

/**
 * Signs `message` with `privateKey`. ECDSA signatures are DER `Ecdsa-Sig-Value` (RFC 3279 §2.2.3);
 * ML-DSA and SLH-DSA are hedged (randomised) as node:crypto implements them.
 */
export function sign(
  algorithm: SignatureAlgorithm,
  privateKey: KeyObject,
  message: Uint8Array,
  options?: SignOptions,
): Buffer {
  checkKey(algorithm, privateKey);
  return nodeSign(hashOf(algorithm), message, keyInput(algorithm, privateKey, options));
}

/** Verifies; false for a wrong, malformed or mis-sized signature (never throws on bad input bytes). */
export function verify(
  algorithm: SignatureAlgorithm,
  publicKey: KeyObject,
  message: Uint8Array,
  signature: Uint8Array,
  options?: SignOptions,
): boolean {
  checkKey(algorithm, publicKey);
  const key = keyInput(algorithm, publicKey, options);
  try {
    return nodeVerify(hashOf(algorithm), message, key, signature);
  } catch {
    return false;
  }
}

/** A `Signer` over a private key held in this process. */
export function keySigner(algorithm: SignatureAlgorithm, privateKey: KeyObject): Signer {
  checkKey(algorithm, privateKey);
  return { algorithm, sign: (message, options) => sign(algorithm, privateKey, message, options) };
}
