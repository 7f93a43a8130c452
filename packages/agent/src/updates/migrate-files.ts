import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { type EncryptedStore, removeFileDurably } from "@bulwark/sdk/store";
import { isJobNotify } from "@bulwark/sdk/wire/jobs";
import type { AgentLog } from "../log.ts";
import { type Consent, DEFAULT_CONSENT, writeConsent } from "./consent.ts";
import { type Installed, type LocalJob, newer } from "./job-store.ts";
import { FLOOR_RECORD, INSTALLED_RECORD, jobRecord, readRecord, tufRecord } from "./update-records.ts";

/** The plain JSON files agents before 0.2 kept their update state in, under `{state}/updates/`. */
export const legacyUpdatePaths = (dir: string) => ({
  consent: join(dir, "updates", "consent.json"),
  installed: join(dir, "updates", "installed.json"),
  jobs: join(dir, "updates", "jobs"),
  tuf: join(dir, "updates", "tuf"),
});

export interface UpdateMigrationResult {
  migrated: boolean;
  jobs: number;
  tufFiles: number;
  /** Files that were not JSON of the expected shape: dropped (said in the log). */
  unreadable: number;
}

const listDir = (path: string) => (existsSync(path) ? readdirSync(path) : []);

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch {
    return undefined;
  }
}

/**
 * Moves the update state of an agent before the encrypted store (consent, jobs, installed
 * versions and anti-rollback floor, the TUF client's trusted metadata) into it, on first start,
 * like `migrateLegacyState` (`migrate.ts`): every record is written (atomically, fsynced) before
 * any old file is deleted, so a crash in between leaves files that the next start migrates again
 * to the same records. An unreadable installed.json does not lose the floor silently: the floor is
 * marked rebuilt, so rollback jobs are refused. Idempotent: with none of the files, nothing happens.
 */
export function migrateUpdateFiles(dir: string, store: EncryptedStore, log: AgentLog): UpdateMigrationResult {
  const paths = legacyUpdatePaths(dir);
  const jobFiles = listDir(paths.jobs).filter((n) => n.endsWith(".json"));
  const tufFiles = listDir(paths.tuf).flatMap((product) =>
    statSync(join(paths.tuf, product)).isDirectory()
      ? listDir(join(paths.tuf, product))
          .filter((f) => !f.endsWith(".tmp"))
          .map((file) => ({ product, file }))
      : [],
  );
  // The old agent made jobs/ at every start: an empty one is left behind too, then removed.
  if (Object.values(paths).every((path) => !existsSync(path)))
    return { migrated: false, jobs: 0, tufFiles: 0, unreadable: 0 };

  let unreadable = 0;
  const drop = (file: string) => {
    unreadable++;
    log.warn("update state file unreadable: not migrated", { file });
  };

  if (existsSync(paths.consent)) {
    const consent = readJson(paths.consent) as Partial<Consent> | undefined;
    if (consent && typeof consent === "object") writeConsent(store, { ...DEFAULT_CONSENT, ...consent });
    else drop(paths.consent); // the default: automatic install
  }

  let jobs = 0;
  for (const name of jobFiles) {
    const job = readJson(join(paths.jobs, name)) as LocalJob | undefined;
    if (!job || !isJobNotify(job.note) || typeof job.state !== "string") {
      drop(join(paths.jobs, name));
      continue;
    }
    store.putJson("state", jobRecord(job.note.jobId), job);
    jobs++;
  }

  if (existsSync(paths.installed))
    migrateInstalled(store, readJson(paths.installed), () => drop(paths.installed));

  for (const { product, file } of tufFiles) {
    let name: string;
    try {
      name = decodeURIComponent(file); // `directoryStore` named its files with encodeURIComponent
    } catch {
      drop(join(paths.tuf, product, file));
      continue;
    }
    store.put("state", tufRecord(product, name), readFileSync(join(paths.tuf, product, file)));
  }

  // Every record is written (and fsynced): only now do the old files go.
  for (const name of jobFiles) removeFileDurably(join(paths.jobs, name));
  for (const { product, file } of tufFiles) removeFileDurably(join(paths.tuf, product, file));
  // What is left there (a writer's temporary files, stray entries) carries no state.
  for (const dir of [paths.jobs, paths.tuf]) rmSync(dir, { recursive: true, force: true });
  removeFileDurably(paths.consent);
  removeFileDurably(paths.installed);
  log.info("update state migrated to the encrypted store", {
    jobs,
    tufFiles: tufFiles.length,
    unreadable,
  });
  return { migrated: true, jobs, tufFiles: tufFiles.length, unreadable };
}

/** installed.json → the installed-versions and floor records, never lowering a floor already in the store. */
function migrateInstalled(store: EncryptedStore, value: unknown, unreadable: () => void): void {
  const components = (value as Partial<Installed> | undefined)?.components;
  const valid =
    components !== null &&
    typeof components === "object" &&
    Object.values(components).every(
      (c) => c && typeof c.version === "string" && (c.floor === null || typeof c.floor === "string"),
    );
  const existing = readRecord<Installed>(store, INSTALLED_RECORD);
  const existingFloor = readRecord<{ components: Record<string, string>; rebuilt?: boolean }>(
    store,
    FLOOR_RECORD,
  );
  const merged: Installed["components"] = existing.found ? { ...existing.value.components } : {};
  if (valid)
    for (const [name, c] of Object.entries(components))
      merged[name] = { version: c.version, floor: newer(merged[name]?.floor, c.floor) };
  else unreadable();
  const floors: Record<string, string> = existingFloor.found ? { ...existingFloor.value.components } : {};
  for (const [name, c] of Object.entries(merged)) {
    const floor = newer(floors[name], c.floor);
    if (floor) floors[name] = floor;
    merged[name] = { version: c.version, floor };
  }
  // An unreadable installed.json lost its floor: rollback jobs are refused from now on (`job-store.ts`).
  const rebuilt = !valid || (existingFloor.found && existingFloor.value.rebuilt === true);
  store.putJson("state", FLOOR_RECORD, { components: floors, ...(rebuilt ? { rebuilt: true } : {}) });
  // With nothing readable, no installed record: the agent rebuilds it from the succeeded jobs.
  if (valid || existing.found) store.putJson("state", INSTALLED_RECORD, { components: merged });
}
