import type { Queryable } from "../../store/store.ts";
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

/** Evidence of signed-update delivery, supplied by the updates domain once it exists (issue #15). */
export interface UpdateEvidence {
  /** The product's update repository, if one is live. */
  repository(db: Queryable, productId: string): Promise<{ active: boolean; detail: string } | null>;
  /** Security releases of the product delivered to at least one device. */
  deliveredSecurityReleases(db: Queryable, productId: string): Promise<number>;
}

/** What the platform can do that some requirements need; absent capabilities are reasons, not guesses. */
export interface PlatformCapabilities {
  /** null: no signed-update system is part of this platform build (issue #15 not merged). */
  updates: UpdateEvidence | null;
  /** The HTTPS and MQTT listeners' minimum TLS version, as configured at start. */
  listenerTls: { http: string; mqtt: string };
  /** How custody protects CA and service keys at rest. */
  keyCustody: string;
}

export const NO_UPDATE_SYSTEM =
  "the platform has no signed-update system yet (TUF repository and rollouts: issue #15, not part of this build)";

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
