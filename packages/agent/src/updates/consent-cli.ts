import { readConsent, writeConsent } from "./consent.ts";
import { JobStore } from "./job-store.ts";

/**
 * `bulwark-agent updates opt-out|opt-in|defer HOURS|refuse JOB_ID|approve JOB_ID|status`: the
 * device user's controls (CRA Annex I Part I (2)(c)); the running agent reads them at each job.
 */
export function updatesCommand(stateDir: string, args: string[], write: (line: string) => void): number {
  const consent = readConsent(stateDir);
  const [verb, arg] = args;
  switch (verb) {
    case "opt-out":
      writeConsent(stateDir, { ...consent, automatic: false });
      write(
        "automatic install off: optional updates wait for approval; security updates install at their deferral limit",
      );
      return 0;
    case "opt-in":
      writeConsent(stateDir, { ...consent, automatic: true });
      write("automatic install on");
      return 0;
    case "defer": {
      const hours = Number(arg);
      if (!Number.isFinite(hours) || hours <= 0 || hours > 24 * 90) return usage(write);
      writeConsent(stateDir, { ...consent, deferUntil: Date.now() + hours * 3600_000 });
      write(`updates deferred by ${hours} h (security updates at most to their policy's limit)`);
      return 0;
    }
    case "refuse":
    case "approve": {
      if (!arg || !/^[A-Za-z0-9_-]{1,64}$/.test(arg)) return usage(write);
      const list = verb === "refuse" ? "refused" : "approved";
      writeConsent(stateDir, { ...consent, [list]: [...new Set([...consent[list], arg])] });
      write(`${verb === "refuse" ? "refused" : "approved"} job ${arg}`);
      return 0;
    }
    case "status": {
      write(
        JSON.stringify(
          {
            consent,
            installed: new JobStore(stateDir).installed(),
            jobs: new JobStore(stateDir).all().map((j) => ({
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
    default:
      return usage(write);
  }
}

function usage(write: (line: string) => void): number {
  write(
    "usage: bulwark-agent updates opt-out | opt-in | defer HOURS | refuse JOB_ID | approve JOB_ID | status",
  );
  return 2;
}
