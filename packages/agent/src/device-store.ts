import { createPrivateKey, type KeyObject } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  destroyFileKek,
  type EncryptedStore,
  fileKek,
  type KeyEncryptionKey,
  openStore,
  StoreTamperError,
  type StoreTamperEvent,
  type WriteStepHook,
  writeFileAtomic,
} from "@bulwark/sdk/store";
import { ensureStateDir } from "./state.ts";
import { createTpmKek, destroyTpmKek, detectTpm, hasTpmKek, openTpmKek, type TpmOptions } from "./tpm-kek.ts";

/**
 * The agent's secrets live in the SDK's encrypted store (`<state>/store/`): the device private key
 * (purpose `keys`), the applied configuration (`state`) and queued security events (`queue`), each
 * purpose under its own AES-256-GCM data key, the data keys wrapped by the key-encryption key in
 * `<state>/data.key` (0600), or sealed to the TPM where there is one (`tpm-kek.ts`). Destroying that one
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
  /** The TPM to seal the KEK to; default `detectTpm()`, null for none (the 0600 file). */
  tpm?: TpmOptions | null;
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
  const open = (kek: KeyEncryptionKey, report = true) =>
    openStore({
      dir: storePaths(dir).store,
      kek,
      onSecurityEvent: report ? options.onSecurityEvent : undefined,
      onWriteStep: options.onWriteStep,
    });
  if (options.kek) return open(options.kek);
  const tpm = options.tpm === undefined ? detectTpm() : (options.tpm ?? undefined);
  const kekFile = storePaths(dir).kek;
  if (hasTpmKek(dir)) {
    if (!tpm)
      throw new Error(
        "the store's key-encryption key is sealed to a TPM, and no TPM is reachable (TPM2TOOLS_TCTI, /dev/tpmrm0)",
      );
    const kek = openTpmKek(dir, tpm);
    if (existsSync(kekFile)) moveToKek(open, fileAgentKek(dir), kek, kekFile); // a move that was interrupted
    return open(kek);
  }
  // A TPM and no legacy files left to read with the file key: the KEK goes into the TPM.
  if (tpm && !existsSync(join(dir, "device.key.pem"))) {
    const previous = existsSync(kekFile) ? fileAgentKek(dir) : undefined;
    const kek = createTpmKek(dir, tpm);
    if (previous) moveToKek(open, previous, kek, kekFile);
    return open(kek);
  }
  return open(fileAgentKek(dir));
}

/**
 * Re-wraps the store's data keys from the file KEK to the TPM's in one atomic keyring write, then
 * crypto-erases the file. Safe to repeat: a keyring already under the new KEK fails to open with
 * the old one, and only the file is left to destroy.
 */
function moveToKek(
  open: (kek: KeyEncryptionKey, report?: boolean) => EncryptedStore,
  from: KeyEncryptionKey,
  to: KeyEncryptionKey,
  kekFile: string,
): void {
  try {
    open(from, false).rotateKek(to);
  } catch (error) {
    if (!(error instanceof StoreTamperError)) throw error;
  }
  destroyFileKek(kekFile);
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

/**
 * Crypto-erase: destroy the KEK first (every record is unreadable from that instant): evict it from
 * the TPM, or overwrite and delete the file.
 */
export function destroyKek(dir: string, tpm: TpmOptions | undefined = detectTpm()): void {
  if (hasTpmKek(dir)) {
    if (!tpm)
      throw new Error("the store's key-encryption key is in a TPM that is not reachable: cannot erase it");
    destroyTpmKek(dir, tpm);
  }
  destroyFileKek(storePaths(dir).kek);
}
