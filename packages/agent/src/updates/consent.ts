import type { EncryptedStore } from "@bulwark/sdk/store";
import type { JobNotify, MaintenanceWindow } from "@bulwark/sdk/wire/jobs";
import { Cron } from "croner";
import type { AgentLog } from "../log.ts";
import { CONSENT_RECORD, readRecord } from "./update-records.ts";

/**
 * The device user's say over updates (CRA Annex I Part I (2)(c)): automatic install by default,
 * an opt-out of automatic install, a deferral until a date, a refusal of an optional update, an
 * approval of one. Kept in the encrypted store (record `updates.consent`, `update-records.ts`), set
 * with `bulwark-agent updates …`.
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

/** A new device's consent: automatic install, no deferral, nothing refused or approved. */
export const DEFAULT_CONSENT: Consent = { automatic: true, refused: [], approved: [] };

/**
 * The user's consent. A record that fails its integrity check is replaced by the default
 * (automatic install: security updates are not held back by a choice nobody can vouch for, CRA
 * Annex I Part I (2)(c)), said in one error line; the user sets their choices again.
 */
export function readConsent(store: EncryptedStore, log: AgentLog): Consent {
  const read = readRecord<Partial<Consent>>(store, CONSENT_RECORD);
  if (read.found) return { ...DEFAULT_CONSENT, ...read.value } as Consent;
  if (read.tampered) {
    log.error(
      "update consent record failed its integrity check: reset to the defaults (automatic install on, no deferral); set your choices again with bulwark-agent updates",
    );
    writeConsent(store, DEFAULT_CONSENT);
  }
  return { ...DEFAULT_CONSENT, refused: [], approved: [] };
}

export function writeConsent(store: EncryptedStore, consent: Consent): void {
  store.putJson("state", CONSENT_RECORD, consent);
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
