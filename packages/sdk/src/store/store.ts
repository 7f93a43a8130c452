import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { AuthenticationError } from "../primitives/aes-256-gcm.ts";
import {
  createFileExclusive,
  removeFileDurably,
  sweepTemporaries,
  type WriteStepHook,
  writeFileAtomic,
} from "./atomic-write.ts";
import type { KeyEncryptionKey } from "./kek.ts";
import {
  type DataKeys,
  newKeyring,
  STORE_PURPOSES,
  type StorePurpose,
  unwrapKeyring,
  wrapKeyring,
} from "./keyring.ts";
import { openRecord, recordAad, sealRecord } from "./record.ts";
import { StoreTamperError, type StoreTamperEvent, type TamperLocation, type TamperReason } from "./tamper.ts";

export interface OpenStoreOptions {
  /** The store's directory (created 0700). */
  dir: string;
  kek: KeyEncryptionKey;
  /** Told of every tamper finding before `StoreTamperError` is thrown: report it as a security event. */
  onSecurityEvent?: (event: StoreTamperEvent) => void;
  /** Called before each step of every write (`atomic-write.ts`); the crash test stops the writer there. */
  onWriteStep?: WriteStepHook;
}

const KEYRING = "keyring.json";
const SUFFIX = ".rec";
const NAME = /^[a-z0-9][a-z0-9._-]{0,127}$/;
export const MAX_RECORD_BYTES = 16 * 1024 * 1024;

/**
 * An encrypted device store: keys, state and queued data, each purpose under its own AES-256-GCM
 * data key, the data keys wrapped by a key-encryption key (`kek.ts`). Writes are atomic and durable
 * (`atomic-write.ts`); anything that fails authentication is reported and refused, never returned.
 * Not detected: replacing a record with an older copy of itself (rollback) — that needs a monotonic
 * counter the device can protect (a TPM NV counter), which the KEK port leaves room for.
 */
export class EncryptedStore {
  readonly #dir: string;
  readonly #storeId: string;
  readonly #keys: DataKeys;
  readonly #options: OpenStoreOptions;
  #sequence = 0;

  constructor(options: OpenStoreOptions, storeId: string, keys: DataKeys) {
    this.#dir = options.dir;
    this.#storeId = storeId;
    this.#keys = keys;
    this.#options = options;
  }

  /** The record's value, or undefined if there is none; `StoreTamperError` if it was changed. */
  get(purpose: StorePurpose, name: string): Buffer | undefined {
    const file = readIfPresent(this.#path(purpose, name));
    if (file === undefined) return undefined;
    const location: TamperLocation = { kind: "record", purpose, name };
    let opened: Buffer | "malformed";
    try {
      opened = openRecord(this.#keys[purpose], recordAad(this.#storeId, purpose, name), file);
    } catch (error) {
      if (error instanceof AuthenticationError) throw this.#tamper(location, "authentication-failed");
      throw error;
    }
    if (opened === "malformed") throw this.#tamper(location, "malformed");
    return opened;
  }

  put(purpose: StorePurpose, name: string, value: Uint8Array): void {
    if (value.length > MAX_RECORD_BYTES)
      throw new RangeError(`a record holds at most ${MAX_RECORD_BYTES} bytes`);
    const sealed = sealRecord(this.#keys[purpose], recordAad(this.#storeId, purpose, name), value);
    writeFileAtomic(this.#path(purpose, name), sealed, this.#options.onWriteStep);
  }

  delete(purpose: StorePurpose, name: string): void {
    removeFileDurably(this.#path(purpose, name));
  }

  getJson<T>(purpose: StorePurpose, name: string): T | undefined {
    const value = this.get(purpose, name);
    return value === undefined ? undefined : (JSON.parse(value.toString("utf8")) as T);
  }

  putJson(purpose: StorePurpose, name: string, value: unknown): void {
    this.put(purpose, name, Buffer.from(JSON.stringify(value), "utf8"));
  }

  /** Record names of a purpose, in byte order. */
  list(purpose: StorePurpose): string[] {
    return readdirSync(join(this.#dir, purpose))
      .filter((f) => f.endsWith(SUFFIX))
      .map((f) => f.slice(0, -SUFFIX.length))
      .sort();
  }

  /** Appends to the queue; returns the entry's id (ids sort in enqueue order within a process). */
  enqueue(value: Uint8Array): string {
    const id = `${Date.now().toString().padStart(15, "0")}-${(this.#sequence++).toString().padStart(8, "0")}-${randomBytes(4).toString("hex")}`;
    this.put("queue", id, value);
    return id;
  }
  /** Up to `limit` oldest queue entries; they stay until `ack`ed, so a crash never loses one. */
  peekQueue(limit = 100): { id: string; value: Buffer }[] {
    const entries: { id: string; value: Buffer }[] = [];
    for (const id of this.list("queue").slice(0, limit)) {
      const value = this.get("queue", id);
      if (value) entries.push({ id, value }); // gone: acknowledged by another process meanwhile
    }
    return entries;
  }

  ack(id: string): void {
    this.delete("queue", id);
  }

  /** Re-wraps the data keys under a new KEK in one atomic keyring write; the records stay as they are. */
  rotateKek(next: KeyEncryptionKey): void {
    const file = wrapKeyring(next, this.#storeId, this.#keys);
    writeFileAtomic(join(this.#dir, KEYRING), Buffer.from(JSON.stringify(file)), this.#options.onWriteStep);
  }

  #path(purpose: StorePurpose, name: string): string {
    if (!(STORE_PURPOSES as readonly string[]).includes(purpose))
      throw new RangeError(`unknown purpose ${purpose}`);
    if (!NAME.test(name))
      throw new RangeError(`record names are 1-128 of [a-z0-9._-]: ${JSON.stringify(name)}`);
    return join(this.#dir, purpose, `${name}${SUFFIX}`);
  }

  #tamper(location: TamperLocation, reason: TamperReason): StoreTamperError {
    return reportTamper(this.#options, location, reason);
  }
}

/** The file's bytes, or undefined when there is none (also when it was removed since it was listed). */
function readIfPresent(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

function reportTamper(
  options: OpenStoreOptions,
  location: TamperLocation,
  reason: TamperReason,
): StoreTamperError {
  const event: StoreTamperEvent = { type: "store-tampered", at: new Date().toISOString(), location, reason };
  options.onSecurityEvent?.(event);
  return new StoreTamperError(event);
}

/** Opens (or creates) a store: lay out the directories, sweep a crashed writer's leftovers, unlock the keyring. */
export function openStore(options: OpenStoreOptions): EncryptedStore {
  layOut(options.dir);
  const keyringPath = join(options.dir, KEYRING);
  if (!existsSync(keyringPath)) {
    const created = createKeyring(options, keyringPath);
    if (created) return created;
    // Another process created the store first: use its keyring.
  }
  try {
    const { storeId, keys } = unwrapKeyring(options.kek, readFileSync(keyringPath, "utf8"));
    return new EncryptedStore(options, storeId, keys);
  } catch (error) {
    const reason = error instanceof AuthenticationError ? "authentication-failed" : "malformed";
    throw reportTamper(options, { kind: "keyring" }, reason);
  }
}

function layOut(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  sweepTemporaries(dir);
  for (const purpose of STORE_PURPOSES) {
    mkdirSync(join(dir, purpose), { recursive: true, mode: 0o700 });
    sweepTemporaries(join(dir, purpose));
  }
}

/** A new keyring, created exclusively; undefined if another process created one first. */
function createKeyring(options: OpenStoreOptions, keyringPath: string): EncryptedStore | undefined {
  // Records without a keyring can never be read again: refuse rather than start over silently.
  if (STORE_PURPOSES.some((p) => readdirSync(join(options.dir, p)).some((f) => f.endsWith(SUFFIX))))
    throw reportTamper(options, { kind: "keyring" }, "keyring-missing");
  const { file, keys } = newKeyring(options.kek);
  if (!createFileExclusive(keyringPath, Buffer.from(JSON.stringify(file)), options.onWriteStep))
    return undefined;
  return new EncryptedStore(options, file.storeId, keys);
}
