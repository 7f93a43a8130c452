import type { EvidenceContext } from "./context.ts";

/** The 22 Annex I requirements, numbered as across the project (shared/CRA.md). */
export const REQUIREMENT_IDS = [
  "I-1",
  "I-2(a)",
  "I-2(b)",
  "I-2(c)",
  "I-2(d)",
  "I-2(e)",
  "I-2(f)",
  "I-2(g)",
  "I-2(h)",
  "I-2(i)",
  "I-2(j)",
  "I-2(k)",
  "I-2(l)",
  "I-2(m)",
  "II-1",
  "II-2",
  "II-3",
  "II-4",
  "II-5",
  "II-6",
  "II-7",
  "II-8",
] as const;
export type RequirementId = (typeof REQUIREMENT_IDS)[number];

export const STATUSES = ["met", "partly-met", "not-met", "not-applicable"] as const;
export type RequirementStatus = (typeof STATUSES)[number];

/** One fact a status rests on: where it was read, what it says, and (when it has one) its id. */
export interface Evidence {
  source: string;
  detail: string;
  ref?: string;
  at?: number;
}

export interface Verdict {
  status: RequirementStatus;
  /** One sentence: why this status (for partly/not met, what is missing). */
  reason: string;
  evidence: Evidence[];
}

/** A requirement's evaluator: reads live platform state only, never a stored answer. */
export interface Evaluator {
  id: RequirementId;
  /** The clause as cited: `CRA Annex I Part I (2)(a)`. */
  clause: string;
  title: string;
  evaluate(ctx: EvidenceContext): Promise<Verdict>;
}

export type { PlatformCapabilities, UpdateEvidence } from "./platform.ts";

export const NO_UPDATE_SYSTEM = "no signed-update system is wired into this platform build";

export const verdict = (status: RequirementStatus, reason: string, evidence: Evidence[]): Verdict => ({
  status,
  reason,
  evidence,
});

/** The worst of several statuses (not-applicable counts as met). */
export function worst(statuses: readonly RequirementStatus[]): RequirementStatus {
  if (statuses.includes("not-met")) return "not-met";
  if (statuses.includes("partly-met")) return "partly-met";
  return "met";
}
