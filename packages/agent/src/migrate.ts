import { createPrivateKey, type KeyObject } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { type EncryptedStore, removeFileDurably } from "@bulwark/sdk/store";
import {
  type AgentStoreOptions,
  APPLIED_CONFIG,
  legacyDataKey,
  openAgentStore,
  saveDeviceKey,
} from "./device-store.ts";
import type { AgentLog } from "./log.ts";
import { migrateUpdateFiles } from "./updates/migrate-files.ts";
import { openJson, openPrivateKeyPem } from "./vault.ts";

/** The files agents before the encrypted store (0.1.0) kept their secrets in, beside agent.json. */
export const legacyPaths = (dir: string) => ({
  key: join(dir, "device.key.pem"),
  config: join(dir, "config.sealed"),
  spool: join(dir, "spool"),
});

export interface MigrationResult {
  migrated: boolean;
  events: number;
  /** Sealed files that did not open under the data key: dropped (a spool file as the old agent dropped it). */
  unreadable: number;
}

/** Opens the agent's store, moving a 0.1.0 state directory and plain update-state files into it first. */
export function openMigratedStore(
  dir: string,
  log: AgentLog,
  options: AgentStoreOptions = {},
): EncryptedStore {
  const first = openAgentStore(dir, options);
  // Legacy files are read with the file key; once they are in, the KEK may move into a TPM.
  const store = migrateLegacyState(dir, first, log).migrated ? openAgentStore(dir, options) : first;
  migrateUpdateFiles(dir, store, log); // update state in plain JSON files (before 0.2)
  return store;
}

/**
 * Moves a 0.1.0 state directory into the encrypted store, on first start: the device key, the
 * sealed configuration and the spooled events become records (a spool file's name becomes its
 * queue id, so a second run after a crash writes the same records again, never twice). The old
 * files are deleted only once every record is written. Idempotent: a directory with none of the old
 * files is left as it is.
 */
export function migrateLegacyState(dir: string, store: EncryptedStore, log: AgentLog): MigrationResult {
  const paths = legacyPaths(dir);
  const spooled = existsSync(paths.spool) ? readdirSync(paths.spool).filter((n) => n.endsWith(".event")) : [];
  if (!existsSync(paths.key) && !existsSync(paths.config) && spooled.length === 0)
    return { migrated: false, events: 0, unreadable: 0 };
  const dataKey = legacyDataKey(dir);
  if (!dataKey) throw new Error(`cannot migrate ${dir}: its data key (data.key) is missing`);

  if (existsSync(paths.key)) saveDeviceKey(store, legacyPrivateKey(readFileSync(paths.key, "utf8"), dataKey));
  let unreadable = 0;
  if (existsSync(paths.config)) {
    try {
      store.putJson(
        "state",
        APPLIED_CONFIG,
        openLegacy(readFileSync(paths.config, "utf8"), dataKey, "config"),
      );
    } catch {
      unreadable++; // the server sends the current configuration again on connect
    }
  }
  const moved: string[] = [];
  for (const name of spooled.sort()) {
    let event: unknown;
    try {
      event = openLegacy(readFileSync(join(paths.spool, name), "utf8"), dataKey, "event");
    } catch {
      unreadable++; // a damaged spool file carries nothing that could be sent
      continue;
    }
    store.put("queue", queueIdOf(name), Buffer.from(JSON.stringify(event), "utf8"));
    moved.push(name);
  }

  // Every record is written (and fsynced): only now do the old copies go.
  for (const name of spooled) removeFileDurably(join(paths.spool, name));
  if (existsSync(paths.spool) && readdirSync(paths.spool).length === 0) rmdirSync(paths.spool);
  removeFileDurably(paths.config);
  removeFileDurably(paths.key);
  log.info("state directory migrated to the encrypted store", { events: moved.length, unreadable });
  return { migrated: true, events: moved.length, unreadable };
}

/** `<ms>-<uuid>.event` → `<ms, 15 digits>-<uuid>`: sorts among the store's own ids by time. */
export function queueIdOf(spoolName: string): string {
  const match = /^(\d{1,15})-([0-9a-f-]{36})\.event$/.exec(spoolName);
  if (!match) return `000000000000000-${spoolName.replace(/[^a-z0-9._-]/g, "_").slice(0, 100)}`;
  return `${match[1]!.padStart(15, "0")}-${match[2]}`;
}

/** PKCS#8 encrypted under the data key (0.1.0), or a clear PEM (agents before the vault). */
function legacyPrivateKey(pem: string, dataKey: Buffer): KeyObject {
  return pem.includes("ENCRYPTED PRIVATE KEY") ? openPrivateKeyPem(pem, dataKey) : createPrivateKey(pem);
}

function openLegacy(base64: string, dataKey: Buffer, what: "config" | "event"): unknown {
  return openJson(Buffer.from(base64, "base64"), dataKey, `bulwark-agent/${what}`);
}
