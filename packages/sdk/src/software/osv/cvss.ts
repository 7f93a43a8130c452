/**
 * CVSS vectors from OSV `severity[]`: strict vector validation here, base score computation by the
 * ae-cvss-calculator library (FIRST CVSS v2.0, v3.0, v3.1, v4.0 specifications).
 */
import cvssLib from "ae-cvss-calculator";
import { SoftwareError } from "../errors.ts";
import type { OsvSeverity } from "./types.ts";

export type CvssVersion = "2.0" | "3.0" | "3.1" | "4.0";
export type SeverityRating = "none" | "low" | "medium" | "high" | "critical";

export interface CvssScore {
  version: CvssVersion;
  vector: string;
  baseScore: number;
  rating: SeverityRating;
}

type MetricTable = Readonly<Record<string, readonly string[]>>;

// CVSS v3.1 specification §2 (Base Metrics): mandatory metrics and their values.
const V3_BASE: MetricTable = {
  AV: ["N", "A", "L", "P"],
  AC: ["L", "H"],
  PR: ["N", "L", "H"],
  UI: ["N", "R"],
  S: ["U", "C"],
  C: ["H", "L", "N"],
  I: ["H", "L", "N"],
  A: ["H", "L", "N"],
};
// CVSS v3.1 specification §3, §4: optional temporal and environmental metrics.
const V3_OPTIONAL: MetricTable = {
  E: ["X", "H", "F", "P", "U"],
  RL: ["X", "U", "W", "T", "O"],
  RC: ["X", "C", "R", "U"],
  CR: ["X", "H", "M", "L"],
  IR: ["X", "H", "M", "L"],
  AR: ["X", "H", "M", "L"],
  MAV: ["X", "N", "A", "L", "P"],
  MAC: ["X", "L", "H"],
  MPR: ["X", "N", "L", "H"],
  MUI: ["X", "N", "R"],
  MS: ["X", "U", "C"],
  MC: ["X", "H", "L", "N"],
  MI: ["X", "H", "L", "N"],
  MA: ["X", "H", "L", "N"],
};
// CVSS v4.0 specification §2 (Base Metrics).
const V4_BASE: MetricTable = {
  AV: ["N", "A", "L", "P"],
  AC: ["L", "H"],
  AT: ["N", "P"],
  PR: ["N", "L", "H"],
  UI: ["N", "P", "A"],
  VC: ["H", "L", "N"],
  VI: ["H", "L", "N"],
  VA: ["H", "L", "N"],
  SC: ["H", "L", "N"],
  SI: ["H", "L", "N"],
  SA: ["H", "L", "N"],
};
// CVSS v4.0 specification §3-§5: threat, environmental and supplemental metrics.
const V4_OPTIONAL: MetricTable = {
  E: ["X", "A", "P", "U"],
  CR: ["X", "H", "M", "L"],
  IR: ["X", "H", "M", "L"],
  AR: ["X", "H", "M", "L"],
  MAV: ["X", "N", "A", "L", "P"],
  MAC: ["X", "L", "H"],
  MAT: ["X", "N", "P"],
  MPR: ["X", "N", "L", "H"],
  MUI: ["X", "N", "P", "A"],
  MVC: ["X", "H", "L", "N"],
  MVI: ["X", "H", "L", "N"],
  MVA: ["X", "H", "L", "N"],
  MSC: ["X", "H", "L", "N"],
  MSI: ["X", "S", "H", "L", "N"],
  MSA: ["X", "S", "H", "L", "N"],
  S: ["X", "N", "P"],
  AU: ["X", "N", "Y"],
  R: ["X", "A", "U", "I"],
  V: ["X", "D", "C"],
  RE: ["X", "L", "M", "H"],
  U: ["X", "Clear", "Green", "Amber", "Red"],
};
// CVSS v2.0 guide §2.1 (Base Metrics).
const V2_BASE: MetricTable = {
  AV: ["L", "A", "N"],
  AC: ["H", "M", "L"],
  Au: ["M", "S", "N"],
  C: ["N", "P", "C"],
  I: ["N", "P", "C"],
  A: ["N", "P", "C"],
};
const V2_OPTIONAL: MetricTable = {
  E: ["U", "POC", "F", "H", "ND"],
  RL: ["OF", "TF", "W", "U", "ND"],
  RC: ["UC", "UR", "C", "ND"],
  CDP: ["N", "L", "LM", "MH", "H", "ND"],
  TD: ["N", "L", "M", "H", "ND"],
  CR: ["L", "M", "H", "ND"],
  IR: ["L", "M", "H", "ND"],
  AR: ["L", "M", "H", "ND"],
};

function invalid(vector: string, why: string): never {
  throw new SoftwareError("BW_ERR_CVSS_INVALID", `invalid CVSS vector ${JSON.stringify(vector)}: ${why}`);
}

function checkMetrics(vector: string, parts: string[], base: MetricTable, optional: MetricTable): void {
  const seen = new Set<string>();
  for (const part of parts) {
    const [key, value, extra] = part.split(":");
    if (key === undefined || value === undefined || extra !== undefined)
      invalid(vector, `bad metric ${part}`);
    const allowed = base[key] ?? optional[key];
    if (allowed === undefined) invalid(vector, `unknown metric ${key}`);
    if (!allowed.includes(value)) invalid(vector, `bad value ${value} for ${key}`);
    if (seen.has(key)) invalid(vector, `duplicate metric ${key}`);
    seen.add(key);
  }
  for (const key of Object.keys(base)) if (!seen.has(key)) invalid(vector, `missing base metric ${key}`);
}

/** CVSS v3.1 specification §5 / v4.0 §6: qualitative severity rating scale. */
export function ratingOf(score: number): SeverityRating {
  if (score === 0) return "none";
  if (score < 4) return "low";
  if (score < 7) return "medium";
  if (score < 9) return "high";
  return "critical";
}

/** Parses and scores a CVSS vector string (v2 without prefix, "CVSS:3.0/", "CVSS:3.1/", "CVSS:4.0/"). */
export function scoreCvss(vector: string): CvssScore {
  const v = vector.trim();
  const m = /^CVSS:(3\.0|3\.1|4\.0)\/(.+)$/.exec(v);
  let version: CvssVersion;
  let score: number | undefined;
  if (m === null) {
    checkMetrics(v, v.replace(/^\(|\)$/g, "").split("/"), V2_BASE, V2_OPTIONAL);
    version = "2.0";
    score = new cvssLib.Cvss2(v.replace(/^\(|\)$/g, "")).calculateScores().base;
  } else if (m[1] === "4.0") {
    checkMetrics(v, m[2]!.split("/"), V4_BASE, V4_OPTIONAL);
    version = "4.0";
    score = new cvssLib.Cvss4P0(v).calculateScores().base;
  } else {
    checkMetrics(v, m[2]!.split("/"), V3_BASE, V3_OPTIONAL);
    version = m[1] === "3.0" ? "3.0" : "3.1";
    const calc = version === "3.0" ? new cvssLib.Cvss3P0(v) : new cvssLib.Cvss3P1(v);
    score = calc.calculateScores().base;
  }
  if (typeof score !== "number" || !Number.isFinite(score)) invalid(v, "no base score");
  return { version, vector: v, baseScore: score, rating: ratingOf(score) };
}

/**
 * The highest-scoring CVSS entry of an OSV `severity[]` list (OSV schema §severity: CVSS_V2/V3/V4 carry a
 * vector string). Unscorable or non-CVSS entries are skipped; undefined if none scores.
 */
export function bestCvss(severity: readonly OsvSeverity[]): CvssScore | undefined {
  let best: CvssScore | undefined;
  for (const s of severity) {
    if (s.type !== "CVSS_V2" && s.type !== "CVSS_V3" && s.type !== "CVSS_V4") continue;
    let scored: CvssScore;
    try {
      scored = scoreCvss(s.score);
    } catch {
      continue;
    }
    if (best === undefined || scored.baseScore > best.baseScore) best = scored;
  }
  return best;
}
