import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  type KeyObject,
  randomBytes,
  randomUUID,
} from "node:crypto";
import {
  closeSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import {
  generateKeyPair,
  type KeyAlgorithm,
  publicKeyFromSpki,
  signData,
  spkiOf,
} from "@bulwark/sdk/x509/algorithms";
import type { CustodyKey, CustodySigner, KeyCustody, KeyUseListener } from "./key-custody.ts";

interface StoredKey {
  version: 1;
  id: string;
  label: string;
  algorithm: KeyAlgorithm;
  exportable: boolean;
  spki: string;
  iv: string;
  tag: string;
  ciphertext: string;
  createdAt: string;
}

/**
 * File-backed custody: each private key is PKCS#8 DER sealed with AES-256-GCM under the master
 * key, bound to its id, algorithm and exportability as associated data, in a 0600 file.
 */
export class FileKeyCustody implements KeyCustody {
  readonly #dir: string;
  readonly #masterKey: Buffer;
  readonly #onUse: KeyUseListener;
  readonly #cache = new Map<string, { stored: StoredKey; privateKey: KeyObject }>();

  constructor(options: { dir: string; masterKey: Buffer; onUse?: KeyUseListener }) {
    this.#dir = options.dir;
    this.#masterKey = options.masterKey;
    this.#onUse = options.onUse ?? (() => {});
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
  }

  async generate(
    label: string,
    algorithm: KeyAlgorithm,
    options: { exportable?: boolean } = {},
  ): Promise<CustodyKey> {
    const keys = generateKeyPair(algorithm);
    const id = randomUUID();
    const exportable = options.exportable === true;
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#masterKey, iv);
    cipher.setAAD(associatedData(id, algorithm, exportable));
    const pkcs8 = keys.privateKey.export({ type: "pkcs8", format: "der" });
    const ciphertext = Buffer.concat([cipher.update(pkcs8), cipher.final()]);
    const stored: StoredKey = {
      version: 1,
      id,
      label,
      algorithm,
      exportable,
      spki: spkiOf(keys.publicKey).toString("base64"),
      iv: iv.toString("base64"),
      tag: cipher.getAuthTag().toString("base64"),
      ciphertext: ciphertext.toString("base64"),
      createdAt: new Date().toISOString(),
    };
    writeFileSync(this.#path(id), `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600, flag: "wx" });
    this.#cache.set(id, { stored, privateKey: keys.privateKey });
    this.#onUse({ keyId: id, label, operation: "generate" });
    return { id, label, algorithm, publicKey: keys.publicKey };
  }

  async get(id: string): Promise<CustodyKey> {
    const { stored } = this.#open(id);
    return {
      id,
      label: stored.label,
      algorithm: stored.algorithm,
      publicKey: publicKeyFromSpki(Buffer.from(stored.spki, "base64")),
    };
  }

  async signer(id: string): Promise<CustodySigner> {
    const { stored, privateKey } = this.#open(id);
    return {
      algorithm: stored.algorithm,
      keyId: id,
      sign: (data: Buffer) => {
        this.#onUse({ keyId: id, label: stored.label, operation: "sign" });
        return signData(stored.algorithm, privateKey, data);
      },
    };
  }

  async exportPrivateKeyPem(id: string): Promise<string> {
    const { stored, privateKey } = this.#open(id);
    if (!stored.exportable) throw new Error(`key ${id} is not exportable`);
    this.#onUse({ keyId: id, label: stored.label, operation: "export" });
    return privateKey.export({ type: "pkcs8", format: "pem" }) as string;
  }

  async destroy(id: string): Promise<void> {
    const path = this.#path(id);
    const label = this.#cache.get(id)?.stored.label ?? this.#labelOf(path) ?? "";
    this.#cache.delete(id);
    // The sealed file is the key: overwritten and flushed before the unlink, then the directory
    // flushed (best effort: a journaling or copy-on-write file system may keep old blocks; the
    // ciphertext still needs the master key).
    let fd: number;
    try {
      fd = openSync(path, "r+");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      return;
    }
    try {
      const noise = randomBytes(fstatSync(fd).size);
      for (let done = 0; done < noise.length; ) done += writeSync(fd, noise, done, noise.length - done, done);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      unlinkSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      return; // another destroy of the same key got there first
    }
    const dir = openSync(this.#dir, "r");
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
    this.#onUse({ keyId: id, label, operation: "destroy" });
  }

  async list(): Promise<Array<{ id: string; label: string }>> {
    const keys: Array<{ id: string; label: string }> = [];
    for (const name of readdirSync(this.#dir)) {
      const id = /^([0-9a-f-]{36})\.key\.json$/.exec(name)?.[1];
      const label = id === undefined ? undefined : this.#labelOf(join(this.#dir, name));
      if (id !== undefined && label !== undefined) keys.push({ id, label });
    }
    return keys;
  }

  /** The label a key file holds in clear; undefined if it is gone or not (yet) whole JSON. */
  #labelOf(path: string): string | undefined {
    try {
      const label = (JSON.parse(readFileSync(path, "utf8")) as Partial<StoredKey>).label;
      return typeof label === "string" ? label : undefined;
    } catch {
      return undefined;
    }
  }

  #path(id: string): string {
    if (!/^[0-9a-f-]{36}$/.test(id)) throw new Error("malformed key id");
    return join(this.#dir, `${id}.key.json`);
  }

  #open(id: string): { stored: StoredKey; privateKey: KeyObject } {
    const cached = this.#cache.get(id);
    if (cached) return cached;
    const stored = JSON.parse(readFileSync(this.#path(id), "utf8")) as StoredKey;
    const decipher = createDecipheriv("aes-256-gcm", this.#masterKey, Buffer.from(stored.iv, "base64"));
    decipher.setAAD(associatedData(stored.id, stored.algorithm, stored.exportable));
    decipher.setAuthTag(Buffer.from(stored.tag, "base64"));
    let pkcs8: Buffer;
    try {
      pkcs8 = Buffer.concat([decipher.update(Buffer.from(stored.ciphertext, "base64")), decipher.final()]);
    } catch (error) {
      throw new Error(`key ${id} cannot be decrypted: wrong master key or tampered file`, { cause: error });
    }
    const privateKey = createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" });
    pkcs8.fill(0);
    const entry = { stored, privateKey };
    this.#cache.set(id, entry);
    return entry;
  }
}

function associatedData(id: string, algorithm: KeyAlgorithm, exportable: boolean): Buffer {
  return Buffer.from(`bulwark-key-v1|${id}|${algorithm}|${exportable ? "exportable" : "sealed"}`);
}
