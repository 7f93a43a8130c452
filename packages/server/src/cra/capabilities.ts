import type { PlatformCapabilities, UpdateEvidence } from "./evidence/types.ts";

/**
 * What this platform build can do, for the evidence engine. Both listeners are TLS 1.3 only
 * (`minVersion` of the HTTPS server in app.ts, `mqtt/broker.ts`); custody seals each key with
 * AES-256-GCM under the master key (`pki/file-key-custody.ts`). `updates` stays null until the
 * updates domain (issue #15) supplies its evidence.
 */
export function craCapabilities(updates: UpdateEvidence | null = null): PlatformCapabilities {
  return {
    updates,
    listenerTls: { http: "TLSv1.3", mqtt: "TLSv1.3" },
    keyCustody:
      "file custody: each key sealed with AES-256-GCM under the master key, CA keys never exportable",
  };
}
