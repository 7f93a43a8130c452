import { type StoreTamperEvent, toSecurityReport } from "@bulwark/sdk/store";
import type { AgentLog } from "../log.ts";
import { openMigratedStore } from "../migrate.ts";
import { spoolEvent } from "../security-events.ts";
import { readState } from "../state.ts";
import { readConsent, writeConsent } from "./consent.ts";
import { JobStore } from "./job-store.ts";
import { settingsCommand } from "./settings-cli.ts";
import { agentFloorAnchor } from "./tpm-floor.ts";

export const UPDATES_USAGE =
  "bulwark-agent updates status | jobs | installed | opt-out | opt-in | defer HOURS | defer off | refuse JOB_ID | approve JOB_ID | settings …";

/** The longest deferral the user can ask for, hours (a security update's policy limit still applies). */
export const MAX_DEFER_HOURS = 24 * 90;

export interface UpdatesOutput {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
}

type Parsed =
  | { verb: "status" | "jobs" | "installed" | "opt-out" | "opt-in" | "defer-off" }
  | { verb: "defer"; hours: number }
  | { verb: "refuse" | "approve"; jobId: string };

/** Strict: the verb, exactly its arguments, each checked; a string saying what is wrong otherwise. */
export function parseUpdatesArgs(args: string[]): Parsed | string {
  const [verb, ...rest] = args;
  const arity = (n: number) =>
    rest.length === n
      ? undefined
      : `${verb} takes ${n === 0 ? "no argument" : "one argument"}, got ${rest.length}`;
  switch (verb) {
    case undefined:
      return `a subcommand is needed: ${UPDATES_USAGE}`;
    case "status":
    case "jobs":
    case "installed":
    case "opt-out":
    case "opt-in":
      return arity(0) ?? { verb };
    case "defer": {
      const wrong = arity(1);
      if (wrong) return `${wrong} (HOURS or off)`;
      const [value] = rest as [string];
      if (value === "off") return { verb: "defer-off" };
      const hours = /^[0-9]{1,4}(\.[0-9]{1,2})?$/.test(value) ? Number(value) : Number.NaN;
      if (!(hours > 0 && hours <= MAX_DEFER_HOURS))
        return `defer needs a number of hours between 0 and ${MAX_DEFER_HOURS} (e.g. 24 or 1.5), or off; got ${JSON.stringify(value)}`;
      return { verb: "defer", hours };
    }
    case "refuse":
    case "approve": {
      const wrong = arity(1);
      if (wrong) return `${wrong} (JOB_ID)`;
      const [jobId] = rest as [string];
      // The job id's form on the wire (`@bulwark/sdk/wire/jobs`).
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(jobId))
        return `${verb} needs a job id of 1-64 letters, digits, "_" or "-"; got ${JSON.stringify(jobId.slice(0, 80))}`;
      return { verb, jobId };
    }
    default:
      return `unknown subcommand ${JSON.stringify(verb.slice(0, 40))}: ${UPDATES_USAGE}`;
  }
}

/**
 * `bulwark-agent updates …`: the device user's controls (CRA Annex I Part I (2)(c)) and a view of
 * jobs and installed versions. The state is in the agent's encrypted store (the running agent
 * reads the consent at each job); the arguments are checked before the store is opened. Exit 0
 * done, 2 bad input or a device that is not enrolled, each with one line on stderr.
 */
export function updatesCommand(stateDir: string, args: string[], out: UpdatesOutput, log: AgentLog): number {
  // The integrator's settings are a plain file, not in the store: no enrolment needed.
  if (args[0] === "settings") return settingsCommand(stateDir, args.slice(1), out);
  const parsed = parseUpdatesArgs(args);
  if (typeof parsed === "string") {
    out.stderr(`bulwark-agent updates: ${parsed}`);
    return 2;
  }
  try {
    readState(stateDir); // the store is made at enrolment
  } catch (error) {
    out.stderr(`bulwark-agent updates: ${(error as Error).message}`);
    return 2;
  }
  // Tampering found here is queued as a security event for the running agent to send.
  const tampered: StoreTamperEvent[] = [];
  const store = openMigratedStore(stateDir, log, { onSecurityEvent: (e) => tampered.push(e) });
  try {
    return apply(parsed, stateDir, store, out, log);
  } finally {
    for (const event of tampered) spoolEvent(store, "integrity-failure", toSecurityReport(event).detail);
  }
}

function apply(
  parsed: Parsed,
  stateDir: string,
  store: ReturnType<typeof openMigratedStore>,
  out: UpdatesOutput,
  log: AgentLog,
): number {
  const consent = readConsent(store, log);
  // Read-only: only the running agent writes the TPM-held floor.
  const jobs = () => new JobStore(store, stateDir, log, agentFloorAnchor(stateDir, { writable: false }));
  switch (parsed.verb) {
    case "opt-out":
      writeConsent(store, { ...consent, automatic: false });
      out.stdout(
        "automatic install off: optional updates wait for approval; security updates install at their deferral limit",
      );
      return 0;
    case "opt-in":
      writeConsent(store, { ...consent, automatic: true });
      out.stdout("automatic install on");
      return 0;
    case "defer": {
      const until = Date.now() + Math.round(parsed.hours * 3600_000);
      writeConsent(store, { ...consent, deferUntil: until });
      out.stdout(
        `updates deferred by ${parsed.hours} h, until ${new Date(until).toISOString()} (security updates at most to their policy's limit)`,
      );
      return 0;
    }
    case "defer-off": {
      const { deferUntil: _, ...rest } = consent;
      writeConsent(store, rest);
      out.stdout("deferral cleared");
      return 0;
    }
    case "refuse":
    case "approve": {
      const list = parsed.verb === "refuse" ? "refused" : "approved";
      writeConsent(store, { ...consent, [list]: [...new Set([...consent[list], parsed.jobId])] });
      out.stdout(`${list} job ${parsed.jobId}`);
      return 0;
    }
    case "jobs": {
      const all = jobs().all();
      if (all.length === 0) out.stdout("no update jobs");
      for (const j of all.sort((a, b) => a.firstSeenAt - b.firstSeenAt))
        out.stdout(
          [j.note.jobId, j.note.component, j.note.version, j.note.kind, j.state, j.reason ?? ""]
            .join("\t")
            .trimEnd(),
        );
      return 0;
    }
    case "installed": {
      const installed = jobs().installed();
      const names = Object.keys(installed.components).sort();
      if (names.length === 0) out.stdout("nothing installed through updates yet");
      for (const name of names) {
        const c = installed.components[name]!;
        const counter = c.counter === undefined ? "" : `\tanti-rollback counter ${c.counter}`;
        out.stdout(`${name}\t${c.version}\tanti-rollback floor ${c.floor ?? "none"}${counter}`);
      }
      if (installed.floorRebuilt)
        out.stdout(
          "the anti-rollback floor was rebuilt after an integrity failure: rollback jobs are refused",
        );
      return 0;
    }
    case "status": {
      const store = jobs();
      out.stdout(
        JSON.stringify(
          {
            consent,
            installed: store.installed(),
            jobs: store.all().map((j) => ({
              jobId: j.note.jobId,
              version: j.note.version,
              kind: j.note.kind,
              state: j.state,
              reason: j.reason,
            })),
          },
          null,
          2,
        ),
      );
      return 0;
    }
  }
}
