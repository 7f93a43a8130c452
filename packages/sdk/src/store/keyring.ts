import { randomBytes } from "node:crypto";
import type { KeyEncryptionKey } from "./kek.ts";

/** The data-key purposes: the device's keys, its state (configuration), and queued outgoing data. */
export const STORE_PURPOSES = ["keys", "state", "queue"] as const;
export type StorePurpose = (typeof STORE_PURPOSES)[number];

/**
 * The keyring file: each purpose's 256-bit data key wrapped under the KEK, with associated data
 * naming the store and the purpose (so a wrapped key cannot be moved to another purpose or store).
 */
export interface KeyringFile {
  format: "bulwark-store-keyring";
  version: 1;
  storeId: string;
  keys: Record<StorePurpose, string>;
}

export type DataKeys = Record<StorePurpose, Buffer>;

const wrapAad = (storeId: string, purpose: StorePurpose) =>
  Buffer.from(`bulwark-store/v1/dek/${storeId}/${purpose}`);

export function newKeyring(kek: KeyEncryptionKey): { file: KeyringFile; keys: DataKeys } {
  const storeId = randomBytes(16).toString("hex");
  const keys = Object.fromEntries(STORE_PURPOSES.map((p) => [p, randomBytes(32)])) as DataKeys;
  return { file: wrapKeyring(kek, storeId, keys), keys };
}

export function wrapKeyring(kek: KeyEncryptionKey, storeId: string, keys: DataKeys): KeyringFile {
  const wrapped = Object.fromEntries(
    STORE_PURPOSES.map((p) => [p, kek.wrap(keys[p], wrapAad(storeId, p)).toString("base64")]),
  ) as Record<StorePurpose, string>;
  return { format: "bulwark-store-keyring", version: 1, storeId, keys: wrapped };
}

/** Parses and unwraps; throws "malformed" for a file that is not a keyring, the KEK's error otherwise. */
export function unwrapKeyring(kek: KeyEncryptionKey, text: string): { storeId: string; keys: DataKeys } {
  const file = parseKeyring(text);
  if (!file) throw new KeyringFormatError();
  const keys = Object.fromEntries(
    STORE_PURPOSES.map((p) => [p, kek.unwrap(Buffer.from(file.keys[p], "base64"), wrapAad(file.storeId, p))]),
  ) as DataKeys;
  return { storeId: file.storeId, keys };
}

export class KeyringFormatError extends Error {
  override name = "KeyringFormatError";
}

function parseKeyring(text: string): KeyringFile | undefined {
  let v: Partial<KeyringFile>;
  try {
    v = JSON.parse(text) as Partial<KeyringFile>;
  } catch {
    return undefined;
  }
  if (v?.format !== "bulwark-store-keyring" || v.version !== 1 || !/^[0-9a-f]{32}$/.test(String(v.storeId)))
    return undefined;
  const keys = v.keys as Record<string, unknown> | undefined;
  if (!keys || !STORE_PURPOSES.every((p) => typeof keys[p] === "string")) return undefined;
  return v as KeyringFile;
}
