import { randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { AES_256_GCM, gcmDecrypt, gcmEncrypt } from "../primitives/aes-256-gcm.ts";
import { writeFileAtomic } from "./atomic-write.ts";

/**
 * The key-encryption key (KEK): it only wraps and unwraps the store's per-purpose data keys, so it
 * can live where keys cannot be read out (a TPM, a secure element) by implementing this port. The
 * file implementation is the portable default.
 */
export interface KeyEncryptionKey {
  wrap(dataKey: Uint8Array, aad: Uint8Array): Buffer;
  /** Throws when the wrapped key or its associated data were changed (or this is another KEK). */
  unwrap(wrapped: Uint8Array, aad: Uint8Array): Buffer;
}

/** A KEK held in memory: AES-256-GCM key wrap, wrapped = IV (12) ‖ ciphertext ‖ tag (16). */
export function memoryKek(key: Uint8Array): KeyEncryptionKey {
  if (key.length !== AES_256_GCM.keyBytes) throw new RangeError("a key-encryption key is 32 bytes");
  const k = Buffer.from(key);
  return {
    wrap(dataKey, aad) {
      const iv = randomBytes(AES_256_GCM.ivBytes);
      return Buffer.concat([iv, gcmEncrypt(k, iv, dataKey, aad)]);
    },
    unwrap(wrapped, aad) {
      return gcmDecrypt(
        k,
        wrapped.subarray(0, AES_256_GCM.ivBytes),
        wrapped.subarray(AES_256_GCM.ivBytes),
        aad,
      );
    },
  };
}

/** A KEK in a 0600 file of 32 random bytes, created (atomically) when absent. */
export function fileKek(path: string): KeyEncryptionKey {
  if (!existsSync(path)) writeFileAtomic(path, randomBytes(AES_256_GCM.keyBytes));
  const key = readFileSync(path);
  if (key.length !== AES_256_GCM.keyBytes) throw new RangeError(`${path} is not a 32-byte key`);
  return memoryKek(key);
}

/**
 * Crypto-erase (NIST SP 800-88 Rev. 1 §2.6): overwrite the KEK file with random bytes, flush, delete.
 * Every data key, and so every record, is unreadable from then on.
 */
export function destroyFileKek(path: string): void {
  if (!existsSync(path)) return;
  const size = Math.max(statSync(path).size, 64);
  const fd = openSync(path, "r+");
  try {
    writeSync(fd, randomBytes(size), 0, size, 0);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  rmSync(path, { force: true });
}
