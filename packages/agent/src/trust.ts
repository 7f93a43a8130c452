import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { sha256Fingerprint } from "@bulwark/sdk/fingerprint";
import { fromPemAll, toPem } from "@bulwark/sdk/pem";
import { type AgentState, statePaths } from "./state.ts";

/** The root the device pinned at enrolment (RFC 7030 §4.1.1), found again in its saved CA bundle. */
export function pinnedRoot(stateDir: string, state: AgentState): { pem: string; fingerprint: string } {
  for (const der of fromPemAll("CERTIFICATE", readFileSync(statePaths(stateDir).ca, "utf8"))) {
    if (sha256Fingerprint(der) === state.rootFingerprint && new X509Certificate(der).ca)
      return { pem: toPem("CERTIFICATE", der), fingerprint: state.rootFingerprint };
  }
  throw new Error("the pinned root is missing from the saved CA bundle");
}
