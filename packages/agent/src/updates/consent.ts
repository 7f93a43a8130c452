import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { JobNotify, MaintenanceWindow } from "@bulwark/sdk/wire/jobs";
import { Cron } from "croner";
import { writeAtomic } from "../state.ts";

/**
 * The device user's say over updates (CRA Annex I Part I (2)(c)): automatic install by default,
 * an opt-out of automatic install, a deferral until a date, a refusal of an optional update, an
 * approval of one. Kept in `{stateDir}/updates/consent.json`, set with `bulwark-agent updates …`.
 */
export interface Consent {
  automatic: boolean;
  deferUntil?: number;
  refused: string[];
  approved: string[];
}

export type Decision =
  | { action: "install" }
  | { action: "defer"; until: number; reason: string }
  | { action: "reject"; reason: string };

const path = (stateDir: string) => join(stateDir, "updates", "consent.json");

export function readConsent(stateDir: string): Consent {
  if (!existsSync(path(stateDir))) return { automatic: true, refused: [], approved: [] };
  return {
    refused: [],
    approved: [],
    ...(JSON.parse(readFileSync(path(stateDir), "utf8")) as Partial<Consent>),
  } as Consent;
}

export function writeConsent(stateDir: string, consent: Consent): void {
  mkdirSync(join(stateDir, "updates"), { recursive: true, mode: 0o700 });
  writeAtomic(path(stateDir), JSON.stringify(consent), 0o600);
}

/** When the maintenance window is open now, or when it opens next (cron in its IANA time zone). */
export function windowOpening(window: MaintenanceWindow, now: number): number {
  const cron = new Cron(window.cron, { timezone: window.timeZone, paused: true });
  const duration = window.durationMinutes * 60_000;
  const lastStart = cron.previousRuns(1, new Date(now))[0]?.getTime();
  if (lastStart !== undefined && now < lastStart + duration) return now;
  return cron.nextRun(new Date(now))?.getTime() ?? Number.POSITIVE_INFINITY;
}

/**
 * Whether to install a job now. A mandatory (security) update installs automatically, and a
 * deferral — the user's, or an opt-out of automatic install — holds only until `maxDeferralSeconds`
 * after it was first seen; it cannot be refused. An optional (feature) update waits for the
 * user when automatic install is off, and can be refused. Either waits for its window.
 */
export function decide(note: JobNotify, consent: Consent, firstSeenAt: number, now: number): Decision {
  const window = note.window ? windowOpening(note.window, now) : now;
  if (note.mandatory) {
    const deadline = firstSeenAt + note.maxDeferralSeconds * 1000;
    const wanted =
      !consent.automatic || consent.refused.includes(note.jobId) ? deadline : (consent.deferUntil ?? 0);
    const until = Math.min(wanted, deadline);
    if (until > now)
      return {
        action: "defer",
        until,
        reason: consent.automatic ? "deferred by the user" : "automatic install is off",
      };
  } else {
    if (consent.refused.includes(note.jobId)) return { action: "reject", reason: "refused by the user" };
    if (!consent.automatic && !consent.approved.includes(note.jobId))
      return {
        action: "defer",
        until: now + 86_400_000,
        reason: "automatic install is off: waiting for the user",
      };
    if ((consent.deferUntil ?? 0) > now)
      return { action: "defer", until: consent.deferUntil!, reason: "deferred by the user" };
  }
  if (window > now) return { action: "defer", until: window, reason: "waiting for the maintenance window" };
  return { action: "install" };
}
