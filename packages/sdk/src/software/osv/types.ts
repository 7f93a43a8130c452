/** The subset of the OSV schema (1.7) that Bulwark evaluates, after validation. */

// OSV schema §affected.ranges.events: exactly one of these keys per event.
export type OsvEvent =
  | { kind: "introduced"; version: string }
  | { kind: "fixed"; version: string }
  | { kind: "last_affected"; version: string }
  | { kind: "limit"; version: string };

// OSV schema §affected.ranges.type.
export type OsvRangeType = "SEMVER" | "ECOSYSTEM" | "GIT";

export interface OsvRange {
  type: OsvRangeType;
  repo: string | undefined;
  events: OsvEvent[];
}

// OSV schema §severity: type is CVSS_V2, CVSS_V3, CVSS_V4 or Ubuntu.
export interface OsvSeverity {
  type: string;
  score: string;
}

export interface OsvPackage {
  ecosystem: string;
  name: string;
  purl: string | undefined;
}

export interface OsvAffected {
  package: OsvPackage | undefined;
  ranges: OsvRange[];
  versions: string[];
  severity: OsvSeverity[];
}

export interface OsvRecord {
  schemaVersion: string | undefined;
  id: string;
  modified: string;
  published: string | undefined;
  withdrawn: string | undefined;
  aliases: string[];
  related: string[];
  summary: string | undefined;
  details: string | undefined;
  severity: OsvSeverity[];
  affected: OsvAffected[];
}
