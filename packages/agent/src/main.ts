#!/usr/bin/env node
import { parseArgs } from "node:util";
import { SECURITY_EVENT_KINDS, type SecurityEventKind } from "@bulwark/sdk/wire/reports";
import { KEY_ALGORITHMS, type KeyAlgorithm } from "@bulwark/sdk/x509/algorithms";
import { EnrolError, enroll } from "./enroll.ts";
import { createLog, type Level } from "./log.ts";
import { run } from "./run.ts";
import { setLocalLogging, spoolEvent } from "./security-events.ts";
import { updatesCommand } from "./updates/consent-cli.ts";

const USAGE = `Usage:
  bulwark-agent enroll --server URL --token TOKEN --ca-fingerprint SHA256 [--state-dir DIR] [--label TEXT] [--key-algorithm ALG] [--force]
  bulwark-agent run [--state-dir DIR] [--model NAME] [--rekey]
  bulwark-agent updates opt-out | opt-in | defer HOURS | refuse JOB_ID | approve JOB_ID | status
  bulwark-agent report-event --kind KIND [--detail TEXT] [--state-dir DIR]
      KIND: login-failed | integrity-failure | update-verification-failed | config-changed
  bulwark-agent event-logging on|off [--state-dir DIR]   (the device user's opt-out, CRA Annex I Part I (2)(l))
Environment: BULWARK_AGENT_STATE (state directory, default ./bulwark-agent-state), BULWARK_AGENT_LOG_LEVEL,
  BULWARK_AGENT_RENEW_FRACTION (renew after this fraction of the certificate lifetime, default 0.667)`;

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

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
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
      process.stderr.write(`enrolled as device ${state.deviceId}\n`);
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
      if (outcome === "wiped") process.stderr.write("device wiped: local data crypto-erased\n");
      return 0;
    }
    case "report-event": {
      const kind = values.kind as SecurityEventKind | undefined;
      if (!kind || !SECURITY_EVENT_KINDS.includes(kind))
        throw new EnrolError(`report-event needs --kind ${SECURITY_EVENT_KINDS.join("|")}`);
      if (values.detail !== undefined && (values.detail.length > 256 || /[\n\r\t]/.test(values.detail)))
        throw new EnrolError("--detail must be one line of at most 256 characters");
      spoolEvent(stateDir, kind, values.detail);
      return 0;
    }
    case "event-logging": {
      const [choice] = positionals;
      if (choice !== "on" && choice !== "off") throw new EnrolError("event-logging needs on or off");
      setLocalLogging(stateDir, choice === "on");
      process.stderr.write(`security-event logging ${choice}\n`);
      return 0;
    }
    case "updates":
      return updatesCommand(stateDir, positionals, (line) => process.stdout.write(`${line}\n`));
    default:
      process.stderr.write(`${USAGE}\n`);
      return command === "help" || command === "--help" ? 0 : 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: Error) => {
    // One readable line; exit 2 for bad usage or local state, 1 for a refusal or a failure to reach the server.
    process.stderr.write(`bulwark-agent: ${error.message}\n`);
    const usage =
      error instanceof EnrolError || String((error as { code?: string }).code).startsWith("ERR_PARSE_ARGS");
    process.exitCode = usage ? 2 : 1;
  },
);
