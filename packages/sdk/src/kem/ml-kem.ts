import { createPrivateKey, createPublicKey, decapsulate, encapsulate, type KeyObject } from "node:crypto";
import { integer, octetString, oid, seq } from "../der/der.ts";

/** ML-KEM parameter sets (FIPS 203 §8, Table 2), by their node:crypto key type names. */
export type MlKemParameterSet = "ml-kem-512" | "ml-kem-768" | "ml-kem-1024";

// NIST CSOR: id-alg-ml-kem-512/768/1024 (draft-ietf-lamps-kyber-certificates §3).
const KEM_OID: Record<MlKemParameterSet, string> = {
  "ml-kem-512": "2.16.840.1.101.3.4.4.1",
  "ml-kem-768": "2.16.840.1.101.3.4.4.2",
  "ml-kem-1024": "2.16.840.1.101.3.4.4.3",
};

export const ML_KEM_768_CIPHERTEXT_BYTES = 1088;
export const ML_KEM_768_PUBLIC_KEY_BYTES = 1184;

/** A decapsulation key from the 64-byte seed d ‖ z (FIPS 203 Algorithm 16, ML-KEM.KeyGen_internal). */
export function mlKemKeyFromSeed(parameterSet: MlKemParameterSet, seed: Uint8Array): KeyObject {
  if (seed.length !== 64) throw new RangeError("an ML-KEM seed is 64 bytes (d ‖ z)");
  return createPrivateKey({ key: Buffer.from(seed), format: "raw-seed", asymmetricKeyType: parameterSet });
}

/**
 * A decapsulation key from its expanded form `dk` (FIPS 203 §7.1), read as PKCS#8 with the
 * `expandedKey` choice (draft-ietf-lamps-kyber-certificates §6); with `seed`, the `both` choice,
 * which OpenSSL accepts only when `dk` is the one the seed generates.
 */
export function mlKemKeyFromExpanded(
  parameterSet: MlKemParameterSet,
  dk: Uint8Array,
  seed?: Uint8Array,
): KeyObject {
  const inner = seed ? seq(octetString(seed), octetString(dk)) : octetString(dk);
  const pkcs8 = seq(integer(0), seq(oid(KEM_OID[parameterSet])), octetString(inner));
  return createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" });
}

/** An encapsulation key from `ek`; the FIPS 203 §7.2 input checks (length, modulus) run on import. */
export function mlKemPublicKey(parameterSet: MlKemParameterSet, ek: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.from(ek), format: "raw-public", asymmetricKeyType: parameterSet });
}

export const rawPublicKey = (key: KeyObject): Buffer => createPublicKey(key).export({ format: "raw-public" });

/** ML-KEM.Encaps (FIPS 203 Algorithm 20) with fresh randomness. */
export function mlKemEncapsulate(publicKey: KeyObject): { sharedKey: Buffer; ciphertext: Buffer } {
  return encapsulate(publicKey);
}

/** ML-KEM.Decaps (FIPS 203 Algorithm 21): implicit rejection yields a pseudo-random key, never an error. */
export function mlKemDecapsulate(privateKey: KeyObject, ciphertext: Uint8Array): Buffer {
  return decapsulate(privateKey, ciphertext);
}
