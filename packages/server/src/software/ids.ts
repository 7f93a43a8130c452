import { randomUUID } from "node:crypto";

/**
 * Finding keys and ids. A finding is one (match × release): its row key is
 * `n = match_no × RELEASE_SPAN + release_no`, so the findings of one match are the key range
 * [match_no × RELEASE_SPAN, (match_no + 1) × RELEASE_SPAN) and can be written, resolved or reopened
 * with one range statement. Both numbers come from `software_counters`.
 *
 * Its public id is a UUID (RFC 9562 §5.8, version 8: a vendor-specific layout) composed from the
 * release's random 26-character prefix (82 random bits, unique per release) and the match number
 * in the last 10 hex digits, so ids are computed, never stored, for findings created since
 * migration 602. Findings created before keep their stored id (`legacy_id`, version 4 or 7).
 */
export const RELEASE_SPAN = 2 ** 24;
/** Match numbers stay below this, so `n` stays a safe integer (< 2^53) in JavaScript. */
export const MATCH_LIMIT = 2 ** 29;

/** `n` in SQL (the product is 64-bit on PostgreSQL too). */
export const findingKeySql = (matchNo: string, releaseNo: string): string =>
  `CAST(${matchNo} AS BIGINT) * ${RELEASE_SPAN} + ${releaseNo}`;

export const findingKey = (matchNo: number, releaseNo: number): number => matchNo * RELEASE_SPAN + releaseNo;

/** A new release's id prefix: `xxxxxxxx-xxxx-8xxx-yxxx-xx` (y = 8..b, the RFC 9562 variant). */
export function releaseIdPrefix(): string {
  const random = randomUUID();
  return `${random.slice(0, 14)}8${random.slice(15, 26)}`;
}

export const findingId = (prefix: string, matchNo: number): string =>
  `${prefix}${matchNo.toString(16).padStart(10, "0")}`;

const COMPOSED = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The release prefix and match number of a composed id; undefined for any other string. */
export function parseFindingId(id: string): { prefix: string; matchNo: number } | undefined {
  const lower = id.toLowerCase();
  if (!COMPOSED.test(lower)) return undefined;
  const matchNo = Number.parseInt(lower.slice(26), 16);
  return matchNo < MATCH_LIMIT ? { prefix: lower.slice(0, 26), matchNo } : undefined;
}
