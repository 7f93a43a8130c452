import { createPrivateKey, type KeyObject } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  destroyFileKek,
  type EncryptedStore,
  fileKek,
  type KeyEncryptionKey,
  openStore,
  type StoreTamperEvent,
  type WriteStepHook,
  writeFileAtomic,
} from "@bulwark/sdk/store";
import { ensureStateDir } from "./state.ts";

/**
 * The agent's secrets live in the SDK's encrypted store (`<state>/store/`): the device private key
 * (purpose `keys`), the applied configuration (`state`) and queued security events (`queue`), each
 * purpose under its own AES-256-GCM data key, the data keys wrapped by the key-encryption key in
 * `<state>/data.key` (0600; a TPM holds it where there is one, see `kek.ts`). Destroying that one
 * key crypto-erases everything (NIST SP 800-88 Rev. 1 §2.6). The certificates, the pinned CA bundle
 * and agent.json are public and stay plain files beside it.
 */
export const storePaths = (dir: string) => ({ store: join(dir, "store"), kek: join(dir, "data.key") });

export const DEVICE_KEY = "device";
export const APPLIED_CONFIG = "config";

export interface AgentStoreOptions {
  /** Told of every tamper finding (then `StoreTamperError` is thrown): report it as a security event. */
  onSecurityEvent?: (event: StoreTamperEvent) => void;
  /** The KEK; default the agent's own (`fileAgentKek`). */
  kek?: KeyEncryptionKey;
  /** Test seam: called before each step of every store write (`@bulwark/sdk/store` atomic writes). */
  onWriteStep?: WriteStepHook;
}

/**
 * The agent's KEK as a file: 32 random bytes. Agents before the store kept the same key as 64 hex
 * characters; it is rewritten as bytes (same value, one atomic write), so the legacy files sealed
 * under it stay readable for the migration and a crypto-erase still reaches their remains on flash.
 */
export function fileAgentKek(dir: string): KeyEncryptionKey {
  const path = storePaths(dir).kek;
  const legacy = legacyDataKey(dir);
  if (legacy && readFileSync(path).length !== 32) writeFileAtomic(path, legacy);
  return fileKek(path);
}

/** The key in data.key whatever its encoding (64 hex characters before the store, 32 bytes after). */
export function legacyDataKey(dir: string): Buffer | undefined {
  const path = storePaths(dir).kek;
  if (!existsSync(path)) return undefined;
  const raw = readFileSync(path);
  if (raw.length === 32) return raw;
  const text = raw.toString("utf8").trim();
  if (/^[0-9a-f]{64}$/i.test(text)) return Buffer.from(text, "hex");
  throw new Error(`${path} is damaged (neither 32 bytes nor 64 hex digits)`);
}

export function openAgentStore(dir: string, options: AgentStoreOptions = {}): EncryptedStore {
  ensureStateDir(dir);
  return openStore({
    dir: storePaths(dir).store,
    kek: options.kek ?? fileAgentKek(dir),
    onSecurityEvent: options.onSecurityEvent,
    onWriteStep: options.onWriteStep,
  });
}

/** The device private key, kept as PKCS#8 DER in the `keys` purpose. */
export function saveDeviceKey(store: EncryptedStore, key: KeyObject): void {
  store.put("keys", DEVICE_KEY, key.export({ type: "pkcs8", format: "der" }));
}

export function loadDeviceKey(store: EncryptedStore): KeyObject {
  const der = store.get("keys", DEVICE_KEY);
  if (!der) throw new Error("the device key is missing from the encrypted store: enrol again");
  return createPrivateKey({ key: der, format: "der", type: "pkcs8" });
}

/** The device key as PEM for TLS client authentication: a string in memory only, never written. */
export function deviceKeyPem(store: EncryptedStore): string {
  return loadDeviceKey(store).export({ type: "pkcs8", format: "pem" }) as string;
}

/** Crypto-erase: destroy the KEK first (every record is unreadable from that instant). */
export function destroyKek(dir: string): void {
  destroyFileKek(storePaths(dir).kek);
}
