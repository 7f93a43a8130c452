#!/usr/bin/env node
import { parseArgs } from "node:util";
import { SECURITY_EVENT_KINDS, type SecurityEventKind } from "@bulwark/sdk/wire/reports";
import { KEY_ALGORITHMS, type KeyAlgorithm } from "@bulwark/sdk/x509/algorithms";
import { EnrolError, enroll } from "./enroll.ts";
import { EXPORT_WARNING, ExportError, exportIdentity, usageHint } from "./export-identity.ts";
import { createLog, type Level } from "./log.ts";
import { openMigratedStore } from "./migrate.ts";
import { run } from "./run.ts";
import { setLocalLogging, spoolEvent } from "./security-events.ts";
import { readState } from "./state.ts";
import { updatesCommand } from "./updates/consent-cli.ts";
import { resetAgent } from "./wipe.ts";

const USAGE = `Usage:
  bulwark-agent enroll --server URL --token TOKEN --ca-fingerprint SHA256 [--state-dir DIR] [--label TEXT] [--key-algorithm ALG] [--force]
  bulwark-agent run [--state-dir DIR] [--model NAME] [--rekey]
  bulwark-agent updates status | jobs | installed | opt-out | opt-in | defer HOURS | defer off | refuse JOB_ID | approve JOB_ID [--state-dir DIR]
  bulwark-agent updates settings show | set KEY VALUE | unset KEY [--state-dir DIR]   (the integrator's updates.json)
      KEY: slotsDir | configDir (absolute paths) | installHook | healthCheck | notifyHook (a JSON argv array,
      e.g. '["/usr/bin/hook","--flag"]', [] for none) | metered (true|false) | hardwareRevision |
      checkIntervalMs (100..2147483647) | downloadRetries (0..100)
  bulwark-agent report-event --kind KIND [--detail TEXT] [--state-dir DIR]
      KIND: login-failed | integrity-failure | update-verification-failed | config-changed
  bulwark-agent event-logging on|off [--state-dir DIR]   (the device user's opt-out, CRA Annex I Part I (2)(l))
  bulwark-agent reset [--state-dir DIR]   (crypto-erase and delete all local state: back to first boot)
  bulwark-agent export-identity --out DIR [--state-dir DIR]   (certificate chain and key in clear, for openssl/mosquitto diagnostics)
Environment: BULWARK_AGENT_STATE (state directory, default ./bulwark-agent-state), BULWARK_AGENT_LOG_LEVEL,
  BULWARK_AGENT_RENEW_FRACTION (renew after this fraction of the certificate lifetime, default 0.667)
A lost connection is retried with jittered exponential backoff (up to 5 min); a refusal of the device
(certificate revoked, device disabled) is logged with its cause and retried after 30-60 min.`;

function keyAlgorithmArg(value: string | undefined): KeyAlgorithm | undefined {
  if (value === undefined) return undefined;
  if (!KEY_ALGORITHMS.includes(value as KeyAlgorithm))
    throw new EnrolError(`--key-algorithm must be one of ${KEY_ALGORITHMS.join(", ")}`);
  return value as KeyAlgorithm;
}

function renewFraction(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!(n > 0 && n < 1)) throw new EnrolError("BULWARK_AGENT_RENEW_FRACTION must be between 0 and 1");
  return n;
}

/** Where the agent's command line writes (the structured log goes to stdout through `createLog`). */
export interface Output {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const COMMANDS = ["enroll", "run", "report-event", "event-logging", "reset", "export-identity", "updates"];

/** Exit codes: 0 done, 1 refused or failed, 2 bad usage or local state. */
export async function main(
  argv: string[],
  out: Output = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) },
): Promise<number> {
  const [command = "", ...rest] = argv;
  if (command === "" || command === "help" || command === "--help" || command === "-h") {
    out.stdout(`${USAGE}\n`);
    return 0;
  }
  if (!COMMANDS.includes(command)) {
    out.stderr(`bulwark-agent: unknown command "${command}" (bulwark-agent --help lists the commands)\n`);
    return 2;
  }
  try {
    return await dispatch(command, rest, out);
  } catch (error) {
    // One readable line; exit 2 for bad usage or local state, 1 for a refusal or a failure to reach the server.
    const parseError = String((error as { code?: string }).code).startsWith("ERR_PARSE_ARGS");
    out.stderr(`bulwark-agent ${command}: ${parseError ? argumentError(error) : (error as Error).message}\n`);
    return error instanceof EnrolError || error instanceof ExportError || parseError ? 2 : 1;
  }
}

/** node:util parseArgs errors in a few words ("unknown option --foo"). */
function argumentError(error: unknown): string {
  const { code, message } = error as { code: string; message: string };
  const option = /'([^' ]+)/.exec(message)?.[1] ?? "";
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return `unknown option ${option}`;
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE")
    return /argument missing/.test(message) ? `${option} needs a value` : `${option} does not take a value`;
  return message.split(". ")[0]!;
}

async function dispatch(command: string, rest: string[], out: Output): Promise<number> {
  const { values, positionals } = parseArgs({
    args: rest,
    strict: true,
    options: {
      server: { type: "string" },
      token: { type: "string" },
      "ca-fingerprint": { type: "string" },
      "state-dir": { type: "string" },
      label: { type: "string" },
      model: { type: "string" },
      force: { type: "boolean" },
      kind: { type: "string" },
      detail: { type: "string" },
      "key-algorithm": { type: "string" },
      rekey: { type: "boolean" },
      out: { type: "string" },
    },
    allowPositionals: true,
  });
  const log = createLog((process.env.BULWARK_AGENT_LOG_LEVEL as Level | undefined) ?? "info");
  const stateDir = values["state-dir"] ?? process.env.BULWARK_AGENT_STATE ?? "bulwark-agent-state";
  switch (command) {
    case "enroll": {
      if (!values.server || !values.token || !values["ca-fingerprint"])
        throw new EnrolError("enroll needs --server, --token and --ca-fingerprint");
      const state = await enroll(
        {
          serverUrl: values.server,
          token: values.token,
          caFingerprint: values["ca-fingerprint"],
          stateDir,
          label: values.label,
          force: values.force,
          keyAlgorithm: keyAlgorithmArg(values["key-algorithm"]),
        },
        log,
      );
      out.stderr(`enrolled as device ${state.deviceId}\n`);
      return 0;
    }
    case "run": {
      const controller = new AbortController();
      process.once("SIGINT", () => controller.abort());
      process.once("SIGTERM", () => controller.abort());
      const outcome = await run(
        {
          stateDir,
          signal: controller.signal,
          metadata: values.model ? { model: values.model } : {},
          renewal: {
            newKey: values.rekey === true,
            fraction: renewFraction(process.env.BULWARK_AGENT_RENEW_FRACTION),
          },
        },
        log,
      );
      if (outcome === "wiped") out.stderr("device wiped: local data crypto-erased\n");
      return 0;
    }
    case "report-event": {
      const kind = values.kind as SecurityEventKind | undefined;
      if (!kind || !SECURITY_EVENT_KINDS.includes(kind))
        throw new EnrolError(`report-event needs --kind ${SECURITY_EVENT_KINDS.join("|")}`);
      if (values.detail !== undefined && (values.detail.length > 256 || /[\n\r\t]/.test(values.detail)))
        throw new EnrolError("--detail must be one line of at most 256 characters");
      readState(stateDir); // an unenrolled device has no store to queue into
      spoolEvent(openMigratedStore(stateDir, log), kind, values.detail);
      return 0;
    }
    case "export-identity": {
      if (!values.out) throw new EnrolError("export-identity needs --out DIR (a new directory)");
      const { deviceId } = exportIdentity(stateDir, values.out, log);
      out.stderr(`warning: ${EXPORT_WARNING}\n${usageHint(stateDir, values.out, deviceId)}\n`);
      return 0;
    }
    case "reset": {
      const had = resetAgent(stateDir);
      out.stderr(had ? "agent reset: local state crypto-erased\n" : "agent reset: nothing to erase\n");
      return 0;
    }
    case "event-logging": {
      const [choice] = positionals;
      if (choice !== "on" && choice !== "off") throw new EnrolError("event-logging needs on or off");
      setLocalLogging(stateDir, choice === "on");
      out.stderr(`security-event logging ${choice}\n`);
      return 0;
    }
    case "updates":
      // Its log goes to stderr: stdout is the command's answer (status is JSON).
      return updatesCommand(
        stateDir,
        positionals,
        { stdout: (line) => out.stdout(`${line}\n`), stderr: (line) => out.stderr(`${line}\n`) },
        createLog((process.env.BULWARK_AGENT_LOG_LEVEL as Level | undefined) ?? "info", out.stderr),
      );
    default:
      throw new EnrolError(`unknown command "${command}"`);
  }
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
