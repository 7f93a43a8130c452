import { randomBytes } from "node:crypto";
import { AES_256_GCM, gcmDecrypt, gcmEncrypt } from "../primitives/aes-256-gcm.ts";

/**
 * A record file: magic "BWS" ‖ version 0x01 ‖ IV (12) ‖ ciphertext ‖ tag (16), AES-256-GCM under
 * its purpose's data key. The associated data names the store, the purpose and the record, so a
 * record file copied over another, or into another store, fails authentication.
 */
const MAGIC = Buffer.from([0x42, 0x57, 0x53, 0x01]);
const HEADER = MAGIC.length + AES_256_GCM.ivBytes;

export const recordAad = (storeId: string, purpose: string, name: string) =>
  Buffer.from(`bulwark-store/v1/record/${storeId}/${purpose}/${name}`);

export function sealRecord(dataKey: Buffer, aad: Buffer, value: Uint8Array): Buffer {
  const iv = randomBytes(AES_256_GCM.ivBytes);
  return Buffer.concat([MAGIC, iv, gcmEncrypt(dataKey, iv, value, Buffer.concat([MAGIC, aad]))]);
}

/** "malformed" when it is not a record file; otherwise the GCM result (AuthenticationError on change). */
export function openRecord(dataKey: Buffer, aad: Buffer, file: Buffer): Buffer | "malformed" {
  if (file.length < HEADER + AES_256_GCM.tagBytes || !file.subarray(0, MAGIC.length).equals(MAGIC))
    return "malformed";
  return gcmDecrypt(
    dataKey,
    file.subarray(MAGIC.length, HEADER),
    file.subarray(HEADER),
    Buffer.concat([MAGIC, aad]),
  );
}
