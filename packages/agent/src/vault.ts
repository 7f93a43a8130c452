import { createCipheriv, createDecipheriv, createPrivateKey, type KeyObject, randomBytes } from "node:crypto";
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
import { join } from "node:path";
import { writeAtomic } from "./state.ts";

/**
 * The format of agents before the encrypted store (0.1.0): one 256-bit data key (`data.key`, hex,
 * 0600) under which the device private key (PKCS#8 EncryptedPrivateKeyInfo), the applied
 * configuration and spooled events were sealed. Only the migration (`migrate.ts`) reads it now;
 * the agent keeps its secrets in `@bulwark/sdk/store` (`device-store.ts`), and that same key, kept
 * as bytes, became the store's key-encryption key.
 */
export const vaultPaths = (dir: string) => ({ dataKey: join(dir, "data.key") });

export function hasDataKey(dir: string): boolean {
  return existsSync(vaultPaths(dir).dataKey);
}

/** Creates the data key if there is none; returns it. */
export function ensureDataKey(dir: string): Buffer {
  const path = vaultPaths(dir).dataKey;
  if (existsSync(path)) return readDataKey(dir);
  writeAtomic(path, randomBytes(32).toString("hex"), 0o600);
  return readDataKey(dir);
}

export function readDataKey(dir: string): Buffer {
  const key = Buffer.from(readFileSync(vaultPaths(dir).dataKey, "utf8").trim(), "hex");
  if (key.length !== 32) throw new Error("the agent's data key is damaged");
  return key;
}

/** The device private key as stored: PKCS#8 encrypted (AES-256-CBC, PBES2) under the data key. */
export function sealPrivateKeyPem(key: KeyObject, dataKey: Buffer): string {
  return key.export({
    type: "pkcs8",
    format: "pem",
    cipher: "aes-256-cbc",
    passphrase: dataKey.toString("hex"),
  }) as string;
}

export function openPrivateKeyPem(pem: string, dataKey: Buffer): KeyObject {
  return createPrivateKey({ key: pem, format: "pem", passphrase: dataKey.toString("hex") });
}

// AES-256-GCM file format: 12-byte IV ‖ 16-byte tag ‖ ciphertext, AAD = the file's purpose.
export function sealJson(value: unknown, dataKey: Buffer, purpose: string): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", dataKey, iv);
  cipher.setAAD(Buffer.from(purpose));
  const body = Buffer.concat([cipher.update(JSON.stringify(value), "utf8"), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]);
}

export function openJson<T>(sealed: Buffer, dataKey: Buffer, purpose: string): T {
  const decipher = createDecipheriv("aes-256-gcm", dataKey, sealed.subarray(0, 12));
  decipher.setAAD(Buffer.from(purpose));
  decipher.setAuthTag(sealed.subarray(12, 28));
  const plain = Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]);
  return JSON.parse(plain.toString("utf8")) as T;
}

/**
 * Crypto-erase: overwrite the data key with random bytes, flush it to storage, delete it. Every
 * file sealed under it is unreadable from then on, whether or not it is deleted afterwards.
 */
export function destroyDataKey(dir: string): void {
  const path = vaultPaths(dir).dataKey;
  if (!existsSync(path)) return;
  const size = statSync(path).size;
  const fd = openSync(path, "r+");
  try {
    writeSync(fd, randomBytes(Math.max(size, 64)), 0, Math.max(size, 64), 0);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  rmSync(path, { force: true });
}
