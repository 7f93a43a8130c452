import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type KeyEncryptionKey, memoryKek, removeFileDurably, writeFileAtomic } from "@bulwark/sdk/store";

/**
 * The store's key-encryption key sealed to a TPM 2.0 (TCG TPM 2.0 Library Part 1 §25 "sealed data
 * objects"), driven through tpm2-tools as child processes (no native addon). The KEK is made on the
 * device, sealed under a storage primary key of the owner hierarchy and made persistent in the
 * TPM (`tpm2_evictcontrol`): it exists nowhere outside the TPM but in the agent's memory while it
 * runs. Crypto-erase evicts the persistent object — no copy is left on the device's storage,
 * unlike a file whose old blocks flash may keep.
 */
export interface TpmOptions {
  /** tpm2-tools TCTI, e.g. "device:/dev/tpmrm0" or "swtpm:host=127.0.0.1,port=2321". */
  tcti: string;
  /** Persistent handle for the sealed KEK (owner range 0x81000000-0x817FFFFF). */
  handle?: string;
}

export const DEFAULT_TPM_HANDLE = "0x81010b17";
/** Beside data.key: says the KEK is in the TPM, at which handle (public facts only). */
export const tpmMarker = (dir: string) => join(dir, "data.key.tpm.json");

interface TpmMarker {
  format: "bulwark-tpm-kek";
  version: 1;
  handle: string;
}

export class TpmError extends Error {}

export function tpm2(options: TpmOptions, tool: string, args: string[], input?: Buffer): Buffer {
  try {
    return execFileSync(tool, args, {
      env: { ...process.env, TPM2TOOLS_TCTI: options.tcti },
      input,
      stdio: ["pipe", "pipe", "pipe"],
      timeout: 30_000,
    });
  } catch (error) {
    const e = error as { code?: string; stderr?: Buffer };
    if (e.code === "ENOENT") throw new TpmError(`${tool} is not installed (apt-get install tpm2-tools)`);
    const detail = e.stderr?.toString("utf8").trim().split("\n").at(-1) ?? (error as Error).message;
    throw new TpmError(`${tool}: ${detail}`);
  }
}

/** Where a TPM is: TPM2TOOLS_TCTI if set, else the kernel's resource manager, else none. */
export function detectTpm(env: NodeJS.ProcessEnv = process.env): TpmOptions | undefined {
  if (env.BULWARK_AGENT_TPM === "off") return undefined;
  const handle = env.BULWARK_AGENT_TPM_HANDLE;
  if (env.TPM2TOOLS_TCTI) return { tcti: env.TPM2TOOLS_TCTI, handle };
  if (existsSync("/dev/tpmrm0")) return { tcti: "device:/dev/tpmrm0", handle };
  return undefined;
}

export function hasTpmKek(dir: string): boolean {
  return existsSync(tpmMarker(dir));
}

/** Seals a new random KEK into the TPM at the handle and records it; returns the KEK. */
export function createTpmKek(dir: string, options: TpmOptions): KeyEncryptionKey {
  const handle = options.handle ?? DEFAULT_TPM_HANDLE;
  const kek = randomBytes(32);
  const work = mkdtempSync(join(tmpdir(), "bulwark-tpm-"));
  try {
    const f = (name: string) => join(work, name);
    // Each tool leaves what it loaded in the TPM's few object slots unless a resource manager
    // (/dev/tpmrm0) cleans up: flush transient objects after every step.
    const step = (tool: string, args: string[], input?: Buffer) => {
      tpm2(options, tool, args, input);
      tpm2(options, "tpm2_flushcontext", ["-t"]);
    };
    tpm2(options, "tpm2_flushcontext", ["-t"]);
    // A storage primary key: derived again from the owner seed, never stored.
    step("tpm2_createprimary", ["-C", "o", "-g", "sha256", "-G", "ecc256", "-c", f("primary.ctx")]);
    // The sealed data object: the KEK enters on stdin, never as a file.
    const sealed = [
      "-C",
      f("primary.ctx"),
      "-g",
      "sha256",
      "-i",
      "-",
      "-u",
      f("kek.pub"),
      "-r",
      f("kek.priv"),
    ];
    step("tpm2_create", sealed, kek);
    step("tpm2_load", ["-C", f("primary.ctx"), "-u", f("kek.pub"), "-r", f("kek.priv"), "-c", f("kek.ctx")]);
    step("tpm2_evictcontrol", ["-C", "o", "-c", f("kek.ctx"), handle]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const marker: TpmMarker = { format: "bulwark-tpm-kek", version: 1, handle };
  writeFileAtomic(tpmMarker(dir), Buffer.from(`${JSON.stringify(marker)}\n`));
  return memoryKek(kek);
}

/** Unseals the KEK from the TPM (it stays in this process's memory only). */
export function openTpmKek(dir: string, options: TpmOptions): KeyEncryptionKey {
  const { handle } = JSON.parse(readFileSync(tpmMarker(dir), "utf8")) as TpmMarker;
  const kek = tpm2(options, "tpm2_unseal", ["-c", handle]);
  if (kek.length !== 32) throw new TpmError(`the TPM object at ${handle} is not a 32-byte key`);
  return memoryKek(kek);
}

/** Crypto-erase: evict the sealed KEK from the TPM, then forget where it was. */
export function destroyTpmKek(dir: string, options: TpmOptions): void {
  if (!hasTpmKek(dir)) return;
  const { handle } = JSON.parse(readFileSync(tpmMarker(dir), "utf8")) as TpmMarker;
  tpm2(options, "tpm2_evictcontrol", ["-C", "o", "-c", handle]);
  removeFileDurably(tpmMarker(dir));
}
