import { createHash } from "node:crypto";
import { type EncryptedStore, StoreTamperError } from "@bulwark/sdk/store";

/**
 * Where the agent's update state lives in the encrypted store (`device-store.ts`), purpose `state`:
 * one record each for the user's consent, the installed versions and the anti-rollback floor, one
 * per job, and one per TUF metadata file per product. Record names are 1-128 of [a-z0-9._-]
 * (`@bulwark/sdk/store`); ids that do not fit are named by their SHA-256.
 */
export const CONSENT_RECORD = "updates.consent";
export const INSTALLED_RECORD = "updates.installed";
export const FLOOR_RECORD = "updates.floor";
export const JOB_PREFIX = "updates.job.";
export const TUF_PREFIX = "updates.tuf.";
/** Job reports waiting for their PUBACK (`report-outbox.ts`), named by time and sequence. */
export const OUTBOX_PREFIX = "updates.outbox.";

/** An id as a record-name part: itself if it is short lowercase [a-z0-9-], else "h" + hex of its SHA-256. */
export function namePart(id: string, max: number, hexChars = 64): string {
  // A plain part is at most `max` characters, a hashed one `hexChars + 1 > max`: the two never collide.
  if (hexChars + 1 <= max) throw new RangeError("a hashed name part must be longer than a plain one");
  if (id.length <= max && /^[a-z0-9-]+$/.test(id) && !/^-/.test(id)) return id;
  return `h${createHash("sha256").update(id, "utf8").digest("hex").slice(0, hexChars)}`;
}

/** A job's record (job ids are `[A-Za-z0-9_-]{1,64}`, `wire/jobs.ts`). */
export const jobRecord = (jobId: string) => `${JOB_PREFIX}${namePart(jobId, 64)}`;

/** The records of one product's TUF metadata share the prefix `updates.tuf.<product>.` (no dot in <product>). */
export const tufProductPrefix = (productId: string) => `${TUF_PREFIX}${namePart(productId, 40, 40)}.`;

/** A TUF metadata file's record ("root.json", "timestamp.json", a delegated role's file). */
export function tufRecord(productId: string, name: string): string {
  const plain = name.length <= 64 && /^[a-z0-9][a-z0-9._-]*$/.test(name);
  return `${tufProductPrefix(productId)}${plain ? name : namePart(name, 64)}`;
}

/** What a read of a record found: its value, nothing, or a record that failed authentication. */
export type Read<T> = { found: true; value: T } | { found: false; tampered: boolean };

/**
 * Reads a JSON record. A record that fails authentication (changed, swapped, truncated) has been
 * reported by the store (`onSecurityEvent`, then `StoreTamperError`); here it is "tampered", and
 * the caller falls back to its safe default. Other errors (I/O) propagate.
 */
export function readRecord<T>(store: EncryptedStore, name: string): Read<T> {
  try {
    const value = store.get("state", name);
    if (value === undefined) return { found: false, tampered: false };
    return { found: true, value: JSON.parse(value.toString("utf8")) as T };
  } catch (error) {
    if (error instanceof StoreTamperError || error instanceof SyntaxError)
      return { found: false, tampered: true };
    throw error;
  }
}
