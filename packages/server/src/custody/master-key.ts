import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface MasterKey {
  key: Buffer;
  source: "environment" | "file" | "generated";
  path?: string;
}

/** Parses a 32-byte key given as 64 hex digits or base64. */
export function parseMasterKey(text: string): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed)
    ? Buffer.from(trimmed, "hex")
    : Buffer.from(trimmed, "base64");
  if (key.length !== 32) throw new Error("the master key must be 32 bytes (64 hex digits or base64)");
  return key;
}

/**
 * The key-encryption key that protects keys at rest (CRA Annex I Part I (2)(e)): from
 * BULWARK_MASTER_KEY, else `master.key` in the data directory, else generated there with mode 0600.
 */
export function loadMasterKey(dataDir: string, fromEnvironment: string | undefined): MasterKey {
  if (fromEnvironment) return { key: parseMasterKey(fromEnvironment), source: "environment" };
  const path = join(dataDir, "master.key");
  if (existsSync(path)) return { key: parseMasterKey(readFileSync(path, "utf8")), source: "file", path };
  const key = randomBytes(32);
  writeFileSync(path, `${key.toString("hex")}\n`, { mode: 0o600, flag: "wx" });
  return { key, source: "generated", path };
}
