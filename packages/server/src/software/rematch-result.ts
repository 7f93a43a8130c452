import type { FindingRow } from "./findings.ts";
import type { Triage } from "./triage.ts";

// What a re-match reports (rematch.ts runs it; reconcile.ts fills it in).

export type RematchEventType = "finding.new" | "finding.known-exploited" | "finding.known-exploited-removed";

export interface RematchEvent {
  type: RematchEventType;
  findingId: string;
  row: FindingRow;
}

export interface RematchResult {
  components: number;
  created: number;
  reopened: number;
  resolved: number;
  updated: number;
  carriedOver: { findingId: string; from: string; triage: Triage }[];
  /** Findings whose vulnerability is no longer known-exploited (its CVEs left the KEV catalogue). */
  unexploited: { findingId: string; vulnerability: string; article14Candidate: boolean }[];
  events: RematchEvent[];
}
