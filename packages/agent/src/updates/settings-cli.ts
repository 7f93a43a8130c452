import { existsSync, readFileSync, statSync } from "node:fs";
import {
  checkSetting,
  defaultSettings,
  effectiveSettings,
  firstInvalid,
  HOOK_KEYS,
  isSettingKey,
  parseSettingsText,
  SETTING_KEYS,
  type SettingKey,
  SettingsError,
  settingsFile,
} from "./settings.ts";
import { SettingsLockBusy, type UpdateOptions, updateSettingsFile } from "./settings-file.ts";

export const SETTINGS_USAGE =
  "bulwark-agent updates settings show | set KEY VALUE | unset KEY  (KEY: " +
  `${SETTING_KEYS.join(", ")}; a hook's VALUE is a JSON argv array, e.g. '["/usr/bin/hook","--flag"]')`;

export interface SettingsOutput {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
}

type Parsed =
  | { verb: "show" }
  | { verb: "set"; key: SettingKey; value: unknown }
  | { verb: "unset"; key: string };

/** A command-line VALUE as the file holds it, or what is wrong with it (checked by `checkSetting`). */
function parseValue(key: SettingKey, text: string): { value: unknown } | string {
  let value: unknown = text;
  if ((HOOK_KEYS as readonly string[]).includes(key)) {
    try {
      value = JSON.parse(text);
    } catch {
      return `${key} takes a JSON argv array, e.g. '["/usr/bin/hook","--flag"]' ([] for none); got ${JSON.stringify(text.slice(0, 80))}`;
    }
  } else if (key === "metered") {
    value = text === "true" ? true : text === "false" ? false : text;
  } else if (key === "checkIntervalMs" || key === "downloadRetries") {
    value = /^[0-9]{1,10}$/.test(text) ? Number(text) : text;
  }
  const wrong = checkSetting(key, value);
  return wrong ? `${wrong}; got ${JSON.stringify(text.slice(0, 80))}` : { value };
}

/** Strict: `show`, `set KEY VALUE`, `unset KEY`; a string saying what is wrong otherwise. */
export function parseSettingsArgs(args: string[]): Parsed | string {
  const [verb, ...rest] = args;
  const arity = (n: number, names: string) =>
    rest.length === n ? undefined : `settings ${verb} takes ${names}, got ${rest.length} argument(s)`;
  switch (verb) {
    case undefined:
      return `a subcommand is needed: ${SETTINGS_USAGE}`;
    case "show":
      return arity(0, "no argument") ?? { verb };
    case "set": {
      const wrong = arity(2, "KEY VALUE");
      if (wrong) return `${wrong} (a hook's argv is one JSON array argument)`;
      const [key, text] = rest as [string, string];
      if (!isSettingKey(key)) return unknownKey(key);
      const value = parseValue(key, text);
      return typeof value === "string" ? value : { verb, key, value: value.value };
    }
    case "unset": {
      const wrong = arity(1, "KEY");
      if (wrong) return wrong;
      const [key] = rest as [string];
      // An unknown key is refused here unless the file holds it (checked under the lock).
      return { verb, key };
    }
    default:
      return `unknown settings subcommand ${JSON.stringify(verb.slice(0, 40))}: ${SETTINGS_USAGE}`;
  }
}

const unknownKey = (key: string) =>
  `unknown setting ${JSON.stringify(key.slice(0, 40))} (known: ${SETTING_KEYS.join(", ")})`;

/**
 * `bulwark-agent updates settings …`: the integrator's `{stateDir}/updates.json` (slot and
 * configuration directories, hooks, metered network, hardware revision, intervals). The running
 * agent reads it again at each job. Exit 0 done, 2 bad input (or a file the agent would refuse:
 * `unset` the key it names), 1 a failure (the lock held too long, I/O), each with one line on stderr.
 */
export function settingsCommand(
  stateDir: string,
  args: string[],
  out: SettingsOutput,
  options: UpdateOptions = {},
): number {
  const parsed = parseSettingsArgs(args);
  const fail = (code: number, line: string) => {
    out.stderr(`bulwark-agent updates settings: ${line}`);
    return code;
  };
  if (typeof parsed === "string") return fail(2, parsed);
  if (!existsSync(stateDir) || !statSync(stateDir).isDirectory())
    return fail(2, `the state directory ${stateDir} does not exist (--state-dir DIR, or enrol first)`);
  try {
    switch (parsed.verb) {
      case "show":
        show(stateDir, out);
        return 0;
      case "set": {
        const refused = updateSettingsFile(
          stateDir,
          (given) => {
            // The whole result must be one the agent reads: another bad key is named, not kept silently.
            const next = { ...given, [parsed.key]: parsed.value };
            const wrong = firstInvalid(next);
            return wrong ? `${settingsFile(stateDir)}: ${wrong} (unset it first)` : next;
          },
          options,
        );
        if (refused) return fail(2, refused);
        out.stdout(`${parsed.key} set to ${JSON.stringify(parsed.value)}`);
        return 0;
      }
      case "unset": {
        const refused = updateSettingsFile(
          stateDir,
          (given) => {
            if (!isSettingKey(parsed.key) && !Object.hasOwn(given, parsed.key)) return unknownKey(parsed.key);
            const { [parsed.key]: _, ...rest } = given;
            return rest;
          },
          options,
        );
        if (refused) return fail(2, refused);
        const fallback = isSettingKey(parsed.key) ? defaultSettings(stateDir)[parsed.key] : undefined;
        out.stdout(
          isSettingKey(parsed.key)
            ? `${parsed.key} unset (default: ${fallback === undefined ? "none" : JSON.stringify(fallback)})`
            : `${parsed.key} removed`,
        );
        return 0;
      }
    }
  } catch (error) {
    if (error instanceof SettingsError) return fail(2, error.message);
    if (error instanceof SettingsLockBusy) return fail(1, error.message);
    return fail(1, (error as Error).message);
  }
}

/** One line per key: `KEY<TAB>VALUE` (JSON), `<TAB>(default)` when the file does not set it. */
function show(stateDir: string, out: SettingsOutput): void {
  const file = settingsFile(stateDir);
  const given = existsSync(file) ? parseSettingsText(readFileSync(file, "utf8"), file) : {};
  const effective = effectiveSettings(stateDir, given); // refuses, as the agent does, a file it would not read
  for (const key of SETTING_KEYS) {
    const value = effective[key];
    const shown = value === undefined ? "none" : JSON.stringify(value);
    out.stdout(Object.hasOwn(given, key) ? `${key}\t${shown}` : `${key}\t${shown}\t(default)`);
  }
  for (const key of Object.keys(given).filter((k) => !isSettingKey(k)))
    out.stdout(`${key}\t${JSON.stringify(given[key])}\t(unknown to this agent: ignored)`);
}
