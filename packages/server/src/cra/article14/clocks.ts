import type { ReportableEvent } from "./events.ts";

/**
 * The Article 14 clocks, computed from stored times only (so they survive restarts unchanged):
 * CRA Art. 14(2)(a)/(4)(a) early warning within 24 h of awareness; (2)(b)/(4)(b) notification
 * within 72 h; (2)(c) final report for a vulnerability within 14 days after a corrective or
 * mitigating measure is available; (4)(c) for an incident within one month after the notification;
 * an intermediate report when a CSIRT asks for one (Art. 14(2)(c), (4)(c)).
 */
export const STAGES = ["early-warning", "notification", "intermediate", "final"] as const;
export type Stage = (typeof STAGES)[number];

const HOUR = 3600 * 1000;
const DAY = 24 * HOUR;

export type ClockState = "submitted" | "overdue" | "running" | "waiting" | "not-requested";

export interface Clock {
  stage: Stage;
  dueAt: string | null;
  state: ClockState;
  /** Milliseconds left (negative when overdue); null without a deadline. */
  remainingMs: number | null;
  /** What starts this clock, when it has not started. */
  waitingFor: string | null;
  submittedAt: string | null;
}

/** Adds one calendar month in UTC (Art. 14(4)(c) "one month"). */
export function addMonth(at: number): number {
  const d = new Date(at);
  const target = new Date(
    Date.UTC(
      d.getUTCFullYear(),
      d.getUTCMonth() + 1,
      d.getUTCDate(),
      d.getUTCHours(),
      d.getUTCMinutes(),
      d.getUTCSeconds(),
      d.getUTCMilliseconds(),
    ),
  );
  // 31 January + 1 month: the last day of February, not 3 March.
  if (target.getUTCDate() !== d.getUTCDate()) target.setUTCDate(0);
  return target.getTime();
}

/** Each stage's deadline; `submitted` maps stages to their (first) submission time. */
export function clocks(event: ReportableEvent, submitted: ReadonlyMap<Stage, number>, now: number): Clock[] {
  const due: Record<Stage, { at: number | null; waitingFor: string | null; requested: boolean }> = {
    "early-warning": { at: event.awareAt + 24 * HOUR, waitingFor: null, requested: true },
    notification: { at: event.awareAt + 72 * HOUR, waitingFor: null, requested: true },
    intermediate: {
      at: null,
      waitingFor: event.intermediateRequestedAt === null ? "a request from the CSIRT" : null,
      requested: event.intermediateRequestedAt !== null,
    },
    final:
      event.kind === "vulnerability"
        ? {
            at: event.correctiveAt === null ? null : event.correctiveAt + 14 * DAY,
            waitingFor:
              event.correctiveAt === null ? "a corrective or mitigating measure to be available" : null,
            requested: true,
          }
        : {
            at: submitted.has("notification") ? addMonth(submitted.get("notification")!) : null,
            waitingFor: submitted.has("notification") ? null : "the notification to be submitted",
            requested: true,
          },
  };
  return STAGES.map((stage) => {
    const d = due[stage];
    const sent = submitted.get(stage);
    const state: ClockState =
      sent !== undefined
        ? "submitted"
        : !d.requested
          ? "not-requested"
          : d.at === null
            ? "waiting"
            : d.at < now
              ? "overdue"
              : "running";
    return {
      stage,
      dueAt: d.at === null ? null : new Date(d.at).toISOString(),
      state,
      remainingMs: d.at === null || sent !== undefined ? null : d.at - now,
      waitingFor: sent === undefined ? d.waitingFor : null,
      submittedAt: sent === undefined ? null : new Date(sent).toISOString(),
    };
  });
}
