/**
 * Advisories that are stored but cannot be evaluated: a version in one of their ranges or `versions`
 * lists does not parse in the ecosystem's order, so the engine skips them when matching. An import
 * counts and names them rather than keeping them silently (issue #14).
 */
import { compileAffected } from "@bulwark/sdk/software/osv/ranges";
import type { OsvRecord } from "@bulwark/sdk/software/osv/types";
import { ecosystemScheme } from "@bulwark/sdk/software/versions/registry";

/** How many ids an import result lists; the count is always complete. */
export const LISTED_UNEVALUABLE = 100;

export interface Unevaluable {
  count: number;
  /** The first LISTED_UNEVALUABLE ids, each with the reason. */
  records: { id: string; reason: string }[];
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

export function collectUnevaluable(into: Unevaluable, records: readonly OsvRecord[]): void {
  for (const record of records) {
    const reason = unevaluableReason(record);
    if (reason === undefined) continue;
    into.count++;
    if (into.records.length < LISTED_UNEVALUABLE) into.records.push({ id: record.id, reason });
  }
}
