import { riskBasedDesign } from "./requirements/i-1-risk-based-design.ts";
import { noKnownVulnerabilities } from "./requirements/i-2a-no-known-vulnerabilities.ts";
import { secureByDefault } from "./requirements/i-2b-secure-by-default.ts";
import { securityUpdates } from "./requirements/i-2c-security-updates.ts";
import { accessProtection } from "./requirements/i-2d-access-protection.ts";
import { confidentiality } from "./requirements/i-2e-confidentiality.ts";
import { integrity } from "./requirements/i-2f-integrity.ts";
import { dataMinimisation } from "./requirements/i-2g-data-minimisation.ts";
import { availability } from "./requirements/i-2h-availability.ts";
import { networkImpact } from "./requirements/i-2i-network-impact.ts";
import { attackSurface } from "./requirements/i-2j-attack-surface.ts";
import { exploitationMitigation } from "./requirements/i-2k-exploitation-mitigation.ts";
import { monitoring } from "./requirements/i-2l-monitoring.ts";
import { dataRemoval } from "./requirements/i-2m-data-removal.ts";
import { sbom } from "./requirements/ii-1-sbom.ts";
import { remediation } from "./requirements/ii-2-remediation.ts";
import { securityTesting } from "./requirements/ii-3-security-testing.ts";
import { fixedDisclosure } from "./requirements/ii-4-disclosure.ts";
import { cvdPolicy } from "./requirements/ii-5-cvd-policy.ts";
import { reportingContact } from "./requirements/ii-6-reporting-contact.ts";
import { updateDistribution } from "./requirements/ii-7-update-distribution.ts";
import { updateDissemination } from "./requirements/ii-8-update-dissemination.ts";
import type { Evaluator, RequirementStatus } from "./types.ts";

/** Part I (2)(a)–(m) and Part II (1)–(8), in Annex order; Part I (1) is added by the engine (it reads these). */
export const EVALUATORS: readonly Evaluator[] = [
  noKnownVulnerabilities,
  secureByDefault,
  securityUpdates,
  accessProtection,
  confidentiality,
  integrity,
  dataMinimisation,
  availability,
  networkImpact,
  attackSurface,
  exploitationMitigation,
  monitoring,
  dataRemoval,
  sbom,
  remediation,
  securityTesting,
  fixedDisclosure,
  cvdPolicy,
  reportingContact,
  updateDistribution,
  updateDissemination,
];

export const overall = (statuses: () => RequirementStatus[]): Evaluator => riskBasedDesign(statuses);
