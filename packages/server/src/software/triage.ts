import { BulwarkError } from "@bulwark/sdk/errors";

// OpenVEX spec v0.2.0 §Status Justifications.
export const OPENVEX_JUSTIFICATIONS = [
  "component_not_present",
  "vulnerable_code_not_present",
  "vulnerable_code_not_in_execute_path",
  "vulnerable_code_cannot_be_controlled_by_adversary",
  "inline_mitigations_already_exist",
] as const;

// CycloneDX 1.6 §vulnerabilities[].analysis.justification.
export const CYCLONEDX_JUSTIFICATIONS = [
  "code_not_present",
  "code_not_reachable",
  "requires_configuration",
  "requires_dependency",
  "requires_environment",
  "protected_by_compiler",
  "protected_at_runtime",
  "protected_at_perimeter",
  "protected_by_mitigating_control",
] as const;

export type OpenVexJustification = (typeof OPENVEX_JUSTIFICATIONS)[number];
export type CycloneDxJustification = (typeof CYCLONEDX_JUSTIFICATIONS)[number];
export type Justification = OpenVexJustification | CycloneDxJustification;

export const TRIAGE_STATES = ["under_investigation", "affected", "not_affected", "fixed"] as const;
export type TriageState = (typeof TRIAGE_STATES)[number];

/**
 * A triage decision (the VEX status of a finding). OpenVEX v0.2.0 §Status: `affected` MUST carry an
 * action statement; `not_affected` MUST carry a justification (or impact statement: we require the
 * justification, the statement is optional).
 */
export type Triage =
  | { state: "under_investigation"; detail?: string }
  | { state: "affected"; actionStatement: string; detail?: string }
  | { state: "not_affected"; justification: Justification; impactStatement?: string; detail?: string }
  | { state: "fixed"; detail?: string };

export const UNTRIAGED: Triage = { state: "under_investigation" };

const isOneOf = <T extends string>(list: readonly T[], v: unknown): v is T =>
  typeof v === "string" && (list as readonly string[]).includes(v);

/** Validates a triage body (the HTTP schema checks shapes; this checks the union's rules). */
export function parseTriage(body: Record<string, unknown>): Triage {
  const detail = typeof body.detail === "string" ? { detail: body.detail } : {};
  const state = body.state;
  if (!isOneOf(TRIAGE_STATES, state)) throw new BulwarkError("BW_ERR_VALIDATION", "unknown triage state");
  switch (state) {
    case "under_investigation":
    case "fixed":
      return { state, ...detail };
    case "affected":
      if (typeof body.actionStatement !== "string" || body.actionStatement === "")
        throw new BulwarkError("BW_ERR_VALIDATION", "affected needs an actionStatement (OpenVEX §Status)");
      return { state, actionStatement: body.actionStatement, ...detail };
    case "not_affected": {
      const j = body.justification;
      if (!isOneOf(OPENVEX_JUSTIFICATIONS, j) && !isOneOf(CYCLONEDX_JUSTIFICATIONS, j))
        throw new BulwarkError(
          "BW_ERR_VALIDATION",
          "not_affected needs a justification from the OpenVEX or CycloneDX vocabulary",
        );
      return {
        state,
        justification: j,
        ...(typeof body.impactStatement === "string" ? { impactStatement: body.impactStatement } : {}),
        ...detail,
      };
    }
    default: {
      const never: never = state;
      throw new Error(`unreachable triage state ${String(never)}`);
    }
  }
}

/** OpenVEX justification for a stored one (CycloneDX terms mapped to their nearest OpenVEX term). */
export function toOpenVexJustification(j: Justification): OpenVexJustification {
  if (isOneOf(OPENVEX_JUSTIFICATIONS, j)) return j;
  switch (j) {
    case "code_not_present":
      return "vulnerable_code_not_present";
    case "code_not_reachable":
      return "vulnerable_code_not_in_execute_path";
    case "requires_configuration":
    case "requires_dependency":
    case "requires_environment":
      return "vulnerable_code_cannot_be_controlled_by_adversary";
    case "protected_by_compiler":
    case "protected_at_runtime":
    case "protected_at_perimeter":
    case "protected_by_mitigating_control":
      return "inline_mitigations_already_exist";
    default: {
      const never: never = j;
      throw new Error(`unreachable justification ${String(never)}`);
    }
  }
}

/** CycloneDX justification for a stored one (OpenVEX terms mapped to their nearest CycloneDX term). */
export function toCycloneDxJustification(j: Justification): CycloneDxJustification {
  if (isOneOf(CYCLONEDX_JUSTIFICATIONS, j)) return j;
  switch (j) {
    case "component_not_present":
    case "vulnerable_code_not_present":
      return "code_not_present";
    case "vulnerable_code_not_in_execute_path":
      return "code_not_reachable";
    case "vulnerable_code_cannot_be_controlled_by_adversary":
      return "requires_environment";
    case "inline_mitigations_already_exist":
      return "protected_by_mitigating_control";
    default: {
      const never: never = j;
      throw new Error(`unreachable justification ${String(never)}`);
    }
  }
}
