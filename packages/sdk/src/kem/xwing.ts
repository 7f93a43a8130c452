import { createHash, randomBytes } from "node:crypto";
import {
  ML_KEM_768_CIPHERTEXT_BYTES,
  ML_KEM_768_PUBLIC_KEY_BYTES,
  mlKemDecapsulate,
  mlKemEncapsulate,
  mlKemKeyFromSeed,
  mlKemPublicKey,
  rawPublicKey,
} from "./ml-kem.ts";
import { x25519, x25519Base, x25519PrivateKey } from "./x25519.ts";

/**
 * X-Wing: the hybrid KEM of ML-KEM-768 and X25519 (draft-connolly-cfrg-xwing-kem, the 32-byte-seed
 * form of draft -06 on): both primitives from node:crypto, the key expansion and the combiner written
 * to the draft. IND-CCA secure while either ML-KEM-768 or X25519 holds.
 */
export const XWING_SEED_BYTES = 32;
export const XWING_PUBLIC_KEY_BYTES = ML_KEM_768_PUBLIC_KEY_BYTES + 32; // 1216
export const XWING_CIPHERTEXT_BYTES = ML_KEM_768_CIPHERTEXT_BYTES + 32; // 1120
export const XWING_SHARED_SECRET_BYTES = 32;

// draft-connolly-cfrg-xwing-kem §5.3: XWingLabel = "\.//^\" (0x5c2e2f2f5e5c).
const XWING_LABEL = Buffer.from("5c2e2f2f5e5c", "hex");

export class KemError extends Error {
  override name = "KemError";
}

/**
 * A decapsulation key expanded once (SHAKE256, ML-KEM key generation, X25519 base point): most of a
 * decapsulation's cost (measured 2.2-6.8x faster per decapsulation with it), so a device that opens
 * many envelopes keeps this, not the seed.
 */
export interface XWingSecretKey {
  readonly mlKem: ReturnType<typeof mlKemKeyFromSeed>;
  readonly x25519: ReturnType<typeof x25519PrivateKey>;
  readonly publicKeyX: Buffer;
  readonly publicKey: Buffer;
}

// §5.2 expandDecapsulationKey: SHAKE256(sk, 96) → ML-KEM-768 seed (d ‖ z, 64 bytes) ‖ X25519 scalar (32).
function expand(seed: Uint8Array): XWingSecretKey {
  if (seed.length !== XWING_SEED_BYTES) throw new KemError("an X-Wing decapsulation key is 32 bytes");
  const expanded = createHash("shake256", { outputLength: 96 }).update(seed).digest();
  const mlKem = mlKemKeyFromSeed("ml-kem-768", expanded.subarray(0, 64));
  const x = x25519PrivateKey(expanded.subarray(64, 96));
  const publicKeyX = x25519Base(x);
  return { mlKem, x25519: x, publicKeyX, publicKey: Buffer.concat([rawPublicKey(mlKem), publicKeyX]) };
}

// §5.3 Combiner: SHA3-256(ss_M ‖ ss_X ‖ ct_X ‖ pk_X ‖ XWingLabel).
const combine = (ssM: Uint8Array, ssX: Uint8Array, ctX: Uint8Array, pkX: Uint8Array): Buffer =>
  createHash("sha3-256").update(ssM).update(ssX).update(ctX).update(pkX).update(XWING_LABEL).digest();

export interface XWingKeyPair {
  /** The 32-byte decapsulation key (seed); keep it secret. */
  secretKey: Buffer;
  /** The 1216-byte encapsulation key pk_M ‖ pk_X. */
  publicKey: Buffer;
}

/** §5.2 GenerateKeyPair, or DeriveKeyPair when given a 32-byte seed. */
export function xwingKeyPair(seed: Uint8Array = randomBytes(XWING_SEED_BYTES)): XWingKeyPair {
  return { secretKey: Buffer.from(seed), publicKey: expand(seed).publicKey };
}

/** §5.4 Encapsulate: a fresh shared secret and the 1120-byte ciphertext ct_M ‖ ct_X for `publicKey`. */
export function xwingEncapsulate(publicKey: Uint8Array): { sharedSecret: Buffer; ciphertext: Buffer } {
  if (publicKey.length !== XWING_PUBLIC_KEY_BYTES) throw new KemError("an X-Wing public key is 1216 bytes");
  const pkX = Buffer.from(publicKey.subarray(ML_KEM_768_PUBLIC_KEY_BYTES));
  let pkM: ReturnType<typeof mlKemPublicKey>;
  try {
    pkM = mlKemPublicKey("ml-kem-768", publicKey.subarray(0, ML_KEM_768_PUBLIC_KEY_BYTES));
  } catch {
    throw new KemError("the ML-KEM-768 part of the public key is invalid (FIPS 203 §7.2 check)");
  }
  const ephemeral = x25519PrivateKey(randomBytes(32));
  const ctX = x25519Base(ephemeral);
  let ssX: Buffer;
  try {
    ssX = x25519(ephemeral, pkX);
  } catch {
    throw new KemError("the X25519 part of the public key is a low-order point");
  }
  const { sharedKey: ssM, ciphertext: ctM } = mlKemEncapsulate(pkM);
  return { sharedSecret: combine(ssM, ssX, ctX, pkX), ciphertext: Buffer.concat([ctM, ctX]) };
}

/** Expands a 32-byte decapsulation key (seed) for repeated use. */
export const xwingSecretKey = (seed: Uint8Array): XWingSecretKey => expand(seed);

/** §5.5 Decapsulate. A wrong ML-KEM ciphertext yields an unrelated secret (implicit rejection). */
export function xwingDecapsulate(secretKey: Uint8Array | XWingSecretKey, ciphertext: Uint8Array): Buffer {
  if (ciphertext.length !== XWING_CIPHERTEXT_BYTES) throw new KemError("an X-Wing ciphertext is 1120 bytes");
  const key = secretKey instanceof Uint8Array ? expand(secretKey) : secretKey;
  const ctX = ciphertext.subarray(ML_KEM_768_CIPHERTEXT_BYTES);
  const ssM = mlKemDecapsulate(key.mlKem, ciphertext.subarray(0, ML_KEM_768_CIPHERTEXT_BYTES));
  let ssX: Buffer;
  try {
    ssX = x25519(key.x25519, ctX);
  } catch {
    throw new KemError("the X25519 part of the ciphertext is a low-order point");
  }
  return combine(ssM, ssX, ctX, key.publicKeyX);
}
