/**
 * Advisories that are stored but cannot be evaluated (found where the bundle is read, on the worker): a version in one of their ranges or `versions`
 * lists does not parse in the ecosystem's order, so the engine skips them when matching. An import
 * counts and names them rather than keeping them silently (issue #14).
 */
import { compileAffected } from "@bulwark/sdk/software/osv/ranges";
import type { OsvRecord } from "@bulwark/sdk/software/osv/types";
import { ecosystemScheme } from "@bulwark/sdk/software/versions/registry";

/** How many ids an import result lists; the count is always complete. */
export const LISTED_UNEVALUABLE = 100;

export interface UnevaluableRecord {
  id: string;
  reason: string;
}

export interface Unevaluable {
  count: number;
  /** The first LISTED_UNEVALUABLE ids, each with the reason. */
  records: UnevaluableRecord[];
}

/** The reason a record cannot be evaluated, or undefined when every entry compiles. */
export function unevaluableReason(record: OsvRecord): string | undefined {
  if (record.withdrawn !== undefined) return undefined;
  for (const [i, affected] of record.affected.entries()) {
    // Ecosystems without a version order are not matched at all; they are not this record's fault.
    if (affected.package === undefined || ecosystemScheme(affected.package.ecosystem) === undefined) continue;
    try {
      compileAffected(affected, `${record.id}#/affected/${i}`);
    } catch (e) {
      return (e as Error).message;
    }
  }
  return undefined;
}

/** Adds a batch's unevaluable records to an import's tally (the count complete, the list capped). */
export function tallyUnevaluable(into: Unevaluable, found: readonly UnevaluableRecord[]): void {
  into.count += found.length;
  for (const u of found) if (into.records.length < LISTED_UNEVALUABLE) into.records.push(u);
}
