import { createCipheriv, createDecipheriv } from "node:crypto";

/**
 * AES-256-GCM (NIST SP 800-38D) with a 96-bit IV and a 128-bit tag, the one profile Bulwark uses.
 * Shared by `/aead`, `/kem` (HPKE) and `/store` without either importing the others.
 */
export const AES_256_GCM = { keyBytes: 32, ivBytes: 12, tagBytes: 16 } as const;

/** Authentication failed: wrong key, wrong associated data, or changed ciphertext / tag / IV. */
export class AuthenticationError extends Error {
  override name = "AuthenticationError";
}

function checkSizes(key: Uint8Array, iv: Uint8Array): void {
  if (key.length !== AES_256_GCM.keyBytes) throw new RangeError("an AES-256-GCM key is 32 bytes");
  // SP 800-38D §8.2: 96-bit IVs; other lengths go through GHASH and are not used here.
  if (iv.length !== AES_256_GCM.ivBytes) throw new RangeError("an AES-256-GCM IV is 12 bytes here");
}

/** Encrypts; returns ciphertext ‖ tag. The caller guarantees the IV is never reused under `key`. */
export function gcmEncrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Buffer {
  checkSizes(key, iv);
  const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: AES_256_GCM.tagBytes });
  cipher.setAAD(aad);
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

/** Decrypts ciphertext ‖ tag, or throws `AuthenticationError`; no plaintext is released unverified. */
export function gcmDecrypt(key: Uint8Array, iv: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Buffer {
  checkSizes(key, iv);
  if (sealed.length < AES_256_GCM.tagBytes)
    throw new AuthenticationError("the ciphertext is shorter than its tag");
  const body = sealed.subarray(0, sealed.length - AES_256_GCM.tagBytes);
  const decipher = createDecipheriv("aes-256-gcm", key, iv, { authTagLength: AES_256_GCM.tagBytes });
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(sealed.length - AES_256_GCM.tagBytes));
  try {
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    throw new AuthenticationError("AES-256-GCM authentication failed");
  }
}
