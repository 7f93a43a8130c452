import { createHmac } from "node:crypto";
import { AES_256_GCM, gcmDecrypt, gcmEncrypt } from "../primitives/aes-256-gcm.ts";
import { type XWingSecretKey, xwingDecapsulate, xwingEncapsulate } from "./xwing.ts";

/**
 * HPKE (RFC 9180) base mode, single-shot, with the suite X-Wing (KEM 0x647a,
 * draft-connolly-cfrg-xwing-kem §6) / HKDF-SHA256 (KDF 0x0001) / AES-256-GCM (AEAD 0x0002).
 * One message per encapsulation, so the sequence number is always 0 (RFC 9180 §5.2).
 */
const KEM_ID = 0x647a;
const KDF_ID = 0x0001;
const AEAD_ID = 0x0002;
const NH = 32;

const i2osp = (value: number, length: number) => {
  const out = Buffer.alloc(length);
  out.writeUIntBE(value, 0, length);
  return out;
};
// RFC 9180 §5.1: suite_id = "HPKE" ‖ I2OSP(kem_id, 2) ‖ I2OSP(kdf_id, 2) ‖ I2OSP(aead_id, 2).
const SUITE_ID = Buffer.concat([Buffer.from("HPKE"), i2osp(KEM_ID, 2), i2osp(KDF_ID, 2), i2osp(AEAD_ID, 2)]);
const V1 = Buffer.from("HPKE-v1");

// RFC 5869 §2.2 and §2.3.
const extract = (salt: Uint8Array, ikm: Uint8Array) =>
  createHmac("sha256", salt.length ? salt : Buffer.alloc(NH))
    .update(ikm)
    .digest();
function expand(prk: Uint8Array, info: Uint8Array, length: number): Buffer {
  const blocks: Buffer[] = [];
  let previous = Buffer.alloc(0);
  for (let i = 1; blocks.length * NH < length; i++) {
    previous = createHmac("sha256", prk)
      .update(previous)
      .update(info)
      .update(Buffer.from([i]))
      .digest();
    blocks.push(previous);
  }
  return Buffer.concat(blocks).subarray(0, length);
}

// RFC 9180 §4: LabeledExtract and LabeledExpand.
const labeledExtract = (salt: Uint8Array, label: string, ikm: Uint8Array) =>
  extract(salt, Buffer.concat([V1, SUITE_ID, Buffer.from(label), ikm]));
const labeledExpand = (prk: Uint8Array, label: string, info: Uint8Array, length: number) =>
  expand(prk, Buffer.concat([i2osp(length, 2), V1, SUITE_ID, Buffer.from(label), info]), length);

// RFC 9180 §5.1 KeySchedule for mode_base (0x00) with the default (empty) PSK and PSK id.
function keySchedule(sharedSecret: Uint8Array, info: Uint8Array): { key: Buffer; nonce: Buffer } {
  const context = Buffer.concat([
    Buffer.from([0x00]),
    labeledExtract(Buffer.alloc(0), "psk_id_hash", Buffer.alloc(0)),
    labeledExtract(Buffer.alloc(0), "info_hash", info),
  ]);
  const secret = labeledExtract(sharedSecret, "secret", Buffer.alloc(0));
  return {
    key: labeledExpand(secret, "key", context, AES_256_GCM.keyBytes),
    nonce: labeledExpand(secret, "base_nonce", context, AES_256_GCM.ivBytes),
  };
}

/** RFC 9180 §6.1 SealBase: returns the encapsulated key `enc` (1120 bytes) and ciphertext ‖ tag. */
export function hpkeSeal(
  recipientPublicKey: Uint8Array,
  info: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
): { enc: Buffer; ciphertext: Buffer } {
  const { sharedSecret, ciphertext: enc } = xwingEncapsulate(recipientPublicKey);
  const { key, nonce } = keySchedule(sharedSecret, info);
  return { enc, ciphertext: gcmEncrypt(key, nonce, plaintext, aad) };
}

/** RFC 9180 §6.1 OpenBase; throws `AuthenticationError` when anything does not match. */
export function hpkeOpen(
  recipientSecretKey: Uint8Array | XWingSecretKey,
  enc: Uint8Array,
  info: Uint8Array,
  aad: Uint8Array,
  ciphertext: Uint8Array,
): Buffer {
  const { key, nonce } = keySchedule(xwingDecapsulate(recipientSecretKey, enc), info);
  return gcmDecrypt(key, nonce, ciphertext, aad);
}

export const HPKE_SUITE = { kem: KEM_ID, kdf: KDF_ID, aead: AEAD_ID } as const;
