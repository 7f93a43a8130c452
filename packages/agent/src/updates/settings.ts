import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";

/**
 * How this device installs updates, from `{stateDir}/updates.json` (all optional): where the A/B
 * slots and configuration files live, the commands to run (argv arrays, no shell), whether the
 * current network is metered, the hardware revision, and how often deferred jobs are re-checked.
 * Written by hand or with `bulwark-agent updates settings` (`settings-cli.ts`); both go through
 * `checkSetting`, so the command line refuses exactly what the agent would refuse to read.
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

export type SettingKey = keyof UpdateSettings;

/** Every key the file may hold, in the order `settings show` lists them. */
export const SETTING_KEYS: readonly SettingKey[] = [
  "slotsDir",
  "configDir",
  "installHook",
  "healthCheck",
  "notifyHook",
  "metered",
  "hardwareRevision",
  "checkIntervalMs",
  "downloadRetries",
];

export const HOOK_KEYS: readonly SettingKey[] = ["installHook", "healthCheck", "notifyHook"];

/** The shortest and longest re-check interval: Node runs a timer above 2^31-1 ms after 1 ms. */
export const CHECK_INTERVAL_MS = { min: 100, max: 2_147_483_647 } as const;
export const MAX_DOWNLOAD_RETRIES = 100;
const MAX_PATH = 4096;
const MAX_ARGV = 64;
/** The device metadata's limit (`@bulwark/sdk/wire/metadata`): a longer one is dropped by the server. */
const MAX_HARDWARE_REVISION = 128;

export const settingsFile = (stateDir: string) => join(stateDir, "updates.json");

export function defaultSettings(stateDir: string): UpdateSettings {
  return {
    slotsDir: join(stateDir, "updates", "slots"),
    configDir: join(stateDir, "updates", "config"),
    installHook: [],
    healthCheck: [],
    notifyHook: [],
    metered: false,
    hardwareRevision: undefined,
    checkIntervalMs: 60_000,
    downloadRetries: 5,
  };
}

export const isSettingKey = (key: string): key is SettingKey =>
  (SETTING_KEYS as readonly string[]).includes(key);

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
const CONTROL = /[\u0000-\u001f\u007f]/;

/** What is wrong with `value` for `key`, or undefined when the agent accepts it. */
export function checkSetting(key: SettingKey, value: unknown): string | undefined {
  switch (key) {
    case "slotsDir":
    case "configDir":
      return typeof value === "string" &&
        isAbsolute(value) &&
        value.length <= MAX_PATH &&
        !value.includes("\0")
        ? undefined
        : `${key} must be an absolute path (at most ${MAX_PATH} characters)`;
    case "installHook":
    case "healthCheck":
    case "notifyHook":
      return Array.isArray(value) &&
        value.length <= MAX_ARGV &&
        value.every((a) => typeof a === "string" && a.length <= MAX_PATH && !a.includes("\0")) &&
        (value.length === 0 || value[0] !== "")
        ? undefined
        : `${key} must be an argv array of at most ${MAX_ARGV} strings, the program first and not empty (e.g. ["/usr/bin/hook","--flag"]; [] for none)`;
    case "metered":
      return typeof value === "boolean" ? undefined : `${key} must be true or false`;
    case "hardwareRevision":
      return typeof value === "string" &&
        value.length >= 1 &&
        value.length <= MAX_HARDWARE_REVISION &&
        !CONTROL.test(value)
        ? undefined
        : `${key} must be 1-${MAX_HARDWARE_REVISION} characters without control characters`;
    case "checkIntervalMs":
      return Number.isInteger(value) &&
        (value as number) >= CHECK_INTERVAL_MS.min &&
        (value as number) <= CHECK_INTERVAL_MS.max
        ? undefined
        : `${key} must be a whole number of milliseconds from ${CHECK_INTERVAL_MS.min} to ${CHECK_INTERVAL_MS.max}`;
    case "downloadRetries":
      return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= MAX_DOWNLOAD_RETRIES
        ? undefined
        : `${key} must be a whole number from 0 to ${MAX_DOWNLOAD_RETRIES}`;
  }
}

export class SettingsError extends Error {}

/**
 * The file's content as a JSON object (keys in file order), or a SettingsError. Keys this agent
 * does not know are kept (a newer agent's) and ignored by `readSettings`.
 */
export function parseSettingsText(text: string, file: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new SettingsError(`${file} is not valid JSON (${(error as Error).message})`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new SettingsError(`${file} must hold a JSON object`);
  return parsed as Record<string, unknown>;
}

/** The first known key whose value the agent would refuse, with why; undefined when all are good. */
export function firstInvalid(given: Record<string, unknown>): string | undefined {
  for (const key of SETTING_KEYS)
    if (Object.hasOwn(given, key)) {
      const wrong = checkSetting(key, given[key]);
      if (wrong) return wrong;
    }
  return undefined;
}

/** The effective settings; a file that is not JSON, or holds a value `checkSetting` refuses, throws. */
export function readSettings(stateDir: string): UpdateSettings {
  const file = settingsFile(stateDir);
  if (!existsSync(file)) return defaultSettings(stateDir);
  return effectiveSettings(stateDir, parseSettingsText(readFileSync(file, "utf8"), file));
}

/** The defaults overlaid with the file's known keys; a value `checkSetting` refuses throws. */
export function effectiveSettings(stateDir: string, given: Record<string, unknown>): UpdateSettings {
  const wrong = firstInvalid(given);
  if (wrong) throw new SettingsError(`${settingsFile(stateDir)}: ${wrong}`);
  const known = SETTING_KEYS.filter((k) => Object.hasOwn(given, k)).map((k) => [k, given[k]]);
  return { ...defaultSettings(stateDir), ...Object.fromEntries(known) } as UpdateSettings;
}
