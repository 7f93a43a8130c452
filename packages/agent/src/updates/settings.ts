import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * How this device installs updates, from `{stateDir}/updates.json` (all optional): where the A/B
 * slots and configuration files live, the commands to run (argv arrays, no shell), whether the
 * current network is metered, the hardware revision, and how often deferred jobs are re-checked.
 */
export interface UpdateSettings {
  slotsDir: string;
  configDir: string;
  /** Script hook: run with BULWARK_UPDATE_FILE after the installer (a non-zero exit fails the job). */
  installHook: string[];
  /** Health check after switching slots; default: the new slot's digest matches the signed target. */
  healthCheck: string[];
  /** Notification hook: run with BULWARK_UPDATE_EVENT=available|deferred|installed|failed. */
  notifyHook: string[];
  metered: boolean;
  hardwareRevision: string | undefined;
  checkIntervalMs: number;
  downloadRetries: number;
}

export function readSettings(stateDir: string): UpdateSettings {
  const file = join(stateDir, "updates.json");
  const given = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Partial<UpdateSettings>) : {};
  return {
    slotsDir: given.slotsDir ?? join(stateDir, "updates", "slots"),
    configDir: given.configDir ?? join(stateDir, "updates", "config"),
    installHook: given.installHook ?? [],
    healthCheck: given.healthCheck ?? [],
    notifyHook: given.notifyHook ?? [],
    metered: given.metered ?? false,
    hardwareRevision: given.hardwareRevision,
    checkIntervalMs: given.checkIntervalMs ?? 60_000,
    downloadRetries: given.downloadRetries ?? 5,
  };
}
