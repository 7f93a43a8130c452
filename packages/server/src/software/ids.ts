import { randomUUID } from "node:crypto";

/**
 * A time-ordered UUID (version 7, RFC 9562 §5.7): the 48-bit Unix time in milliseconds, then the
 * random bits of a version-4 UUID. Rows keyed by it are inserted near the end of the primary-key
 * index instead of at a random page, which keeps bulk inserts of findings cache-friendly.
 */
export function timeOrderedUuid(now = Date.now()): string {
  const random = randomUUID();
  const time = now.toString(16).padStart(12, "0").slice(-12);
  // RFC 9562 §5.7: unix_ts_ms (48 bits) | ver = 7 | rand_a | var = 10 | rand_b; randomUUID already
  // set the variant bits.
  return `${time.slice(0, 8)}-${time.slice(8)}-7${random.slice(15)}`;
}
