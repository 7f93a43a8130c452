/** SARIF 2.1.0 (OASIS) rendering of scan findings: one rule per advisory, one result per finding. */
import type { Finding, FindingSeverity } from "@bulwark/sdk/software/scan";
import type { Log, ReportingDescriptor, Result } from "sarif";

// SARIF 2.1.0 §3.27.10 result.level: "error" | "warning" | "note" | "none".
function level(s: FindingSeverity): Result.level {
  switch (s) {
    case "critical":
    case "high":
    case "unknown":
      return "error";
    case "medium":
      return "warning";
    case "low":
    case "none":
      return "note";
    default: {
      const never: never = s;
      throw new Error(`unreachable severity ${String(never)}`);
    }
  }
}

function message(f: Finding): string {
  const fix =
    f.fixedVersions.length > 0 ? ` Fixed in ${f.fixedVersions.join(", ")}.` : " No fixed version is known.";
  const kev = f.knownExploited ? " Listed in CISA KEV (known exploited)." : "";
  return `${f.name}@${f.version} (${f.ecosystem}) is affected by ${f.vulnId}${f.aliases.length > 0 ? ` (${f.aliases.join(", ")})` : ""}.${fix}${kev}`;
}

export function toSarif(findings: readonly Finding[], sbomUri: string, toolVersion: string): Log {
  const rules: ReportingDescriptor[] = [];
  const ruleIndex = new Map<string, number>();
  for (const f of findings) {
    if (ruleIndex.has(f.vulnId)) continue;
    ruleIndex.set(f.vulnId, rules.length);
    rules.push({
      id: f.vulnId,
      shortDescription: { text: f.summary ?? f.vulnId },
      helpUri: `https://osv.dev/vulnerability/${encodeURIComponent(f.vulnId)}`,
      // GitHub code scanning reads "security-severity" (a CVSS score as a string) from rule properties.
      properties: {
        tags: ["security", "vulnerability"],
        ...(f.score === undefined ? {} : { "security-severity": f.score.toFixed(1) }),
        aliases: f.aliases,
      },
    });
  }
  const results: Result[] = findings.map((f) => ({
    ruleId: f.vulnId,
    ruleIndex: ruleIndex.get(f.vulnId)!,
    level: level(f.severity),
    message: { text: message(f) },
    locations: [
      {
        physicalLocation: { artifactLocation: { uri: sbomUri, index: 0 } },
        logicalLocations: [{ name: f.purl ?? `${f.name}@${f.version}`, kind: "module" }],
      },
    ],
    properties: {
      severity: f.severity,
      ...(f.score === undefined ? {} : { cvssScore: f.score, cvssVector: f.cvssVector }),
      fixedVersions: f.fixedVersions,
      knownExploited: f.knownExploited,
      componentRef: f.componentRef,
    },
  }));
  return {
    $schema: "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json",
    version: "2.1.0",
    runs: [
      {
        tool: {
          driver: {
            name: "bulwark-scan",
            version: toolVersion,
            informationUri: "https://github.com/bulwark",
            rules,
          },
        },
        artifacts: [{ location: { uri: sbomUri } }],
        results,
      },
    ],
  };
}
