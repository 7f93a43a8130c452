import type { RequirementId } from "./types.ts";

/**
 * Which draft harmonised standards each requirement's evidence supports. None is cited in the
 * Official Journal yet (shared/CRA.md, Dec 2026), so the map is versioned and names the drafts
 * at the level they are public: prEN 40000-1-2 (secure development), prEN 40000-1-3
 * (vulnerability handling), the ETSI EN 304 6xx vertical standards' test cases.
 */
export const STANDARDS_MAP_VERSION = "2026-12-drafts";

const SECURE_DEVELOPMENT = "prEN 40000-1-2 (secure development and risk management)";
const VULNERABILITY_HANDLING = "prEN 40000-1-3 (vulnerability handling)";
const ETSI = "ETSI EN 304 6xx (product test cases with an evidence field)";

export const STANDARDS_MAP: Record<RequirementId, string[]> = {
  "I-1": [SECURE_DEVELOPMENT],
  "I-2(a)": [VULNERABILITY_HANDLING, ETSI],
  "I-2(b)": [SECURE_DEVELOPMENT, ETSI],
  "I-2(c)": [VULNERABILITY_HANDLING, ETSI],
  "I-2(d)": [SECURE_DEVELOPMENT, ETSI],
  "I-2(e)": [SECURE_DEVELOPMENT, ETSI],
  "I-2(f)": [SECURE_DEVELOPMENT, ETSI],
  "I-2(g)": [SECURE_DEVELOPMENT],
  "I-2(h)": [SECURE_DEVELOPMENT, ETSI],
  "I-2(i)": [SECURE_DEVELOPMENT],
  "I-2(j)": [SECURE_DEVELOPMENT, ETSI],
  "I-2(k)": [SECURE_DEVELOPMENT],
  "I-2(l)": [SECURE_DEVELOPMENT, ETSI],
  "I-2(m)": [SECURE_DEVELOPMENT, ETSI],
  "II-1": [VULNERABILITY_HANDLING],
  "II-2": [VULNERABILITY_HANDLING],
  "II-3": [SECURE_DEVELOPMENT, VULNERABILITY_HANDLING],
  "II-4": [VULNERABILITY_HANDLING],
  "II-5": [VULNERABILITY_HANDLING],
  "II-6": [VULNERABILITY_HANDLING],
  "II-7": [VULNERABILITY_HANDLING],
  "II-8": [VULNERABILITY_HANDLING],
};
