import { hash } from "node:crypto";

/** SHA-256 of a DER certificate as lowercase hex, the form Bulwark prints and pins. */
export function sha256Fingerprint(der: Uint8Array): string {
  return hash("sha256", der, "hex");
}

/** Accepts `AB:CD:…`, `abcd…` or `sha256:abcd…`; returns lowercase hex or undefined if malformed. */
export function normaliseFingerprint(input: string): string | undefined {
  const hex = input
    .replace(/^sha256:/i, "")
    .replace(/:/g, "")
    .toLowerCase();
  return /^[0-9a-f]{64}$/.test(hex) ? hex : undefined;
}
