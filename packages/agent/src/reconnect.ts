import type { OwnStatus } from "./own-status.ts";

/** Reconnect delay after a lost connection: `backoff.ts` (full jitter, never narrower than 10 s). */
export { backoffMs } from "./backoff.ts";

/** The default wait after the server refused the device: an hour, give or take half. */
export const REFUSED_RETRY_MS = 60 * 60 * 1000;

/**
 * Delay after a refusal: retrying soon cannot help (a revoked certificate stays revoked; a
 * disabled device waits for an operator), so a long interval, jittered over its upper half so
 * that a fleet disabled at once does not come back at once.
 */
export function refusedRetryMs(intervalMs = REFUSED_RETRY_MS, random = Math.random): number {
  return Math.floor(intervalMs / 2 + random() * (intervalMs / 2));
}

// MQTT 3.1.1 §3.2.2.3, Table 3.1: CONNACK return codes.
const RETURN_CODES: Record<number, string> = {
  1: "unacceptable protocol version",
  2: "identifier rejected",
  3: "server unavailable",
  4: "bad user name or password",
  5: "not authorized",
};

export interface Refusal {
  returnCode: number;
  reason: string;
}

/** The CONNACK refusal in an mqtt.js connection error (its `code` is the return code), if it is one. */
export function connackRefusal(error: unknown): Refusal | undefined {
  const code = (error as { code?: unknown }).code;
  if (typeof code !== "number" || !RETURN_CODES[code]) return undefined;
  return { returnCode: code, reason: RETURN_CODES[code] };
}

/** Refusals that waiting a little will not cure: the device itself is not let in. */
export function isLastingRefusal(refusal: Refusal): boolean {
  return refusal.returnCode === 4 || refusal.returnCode === 5;
}

/** Why the server refuses this device, in one sentence, from the CONNACK and its certificate's OCSP status. */
export function refusalCause(refusal: Refusal, status: OwnStatus): string {
  switch (status.kind) {
    case "revoked":
      return `the device certificate is revoked (${status.reason}, since ${status.revokedAt.toISOString()}): the device must be enrolled again`;
    case "good":
      return "the device certificate is valid (OCSP good), so the server refuses the device itself: it is disabled or not allowed to connect; an operator can enable it";
    case "unknown":
      return "the issuing CA does not know this certificate (OCSP unknown): it was not issued by this server, or its record is gone";
    case "unavailable":
      return `the server refused the connection (${refusal.reason}); the certificate's status could not be checked: ${status.detail}`;
  }
}
