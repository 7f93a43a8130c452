/** Plain-text table of findings for terminals. */
import type { Finding } from "@bulwark/sdk/software/scan";

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + " ".repeat(n - s.length);
}

export function toTable(findings: readonly Finding[], summary: string): string {
  if (findings.length === 0) return `No known vulnerabilities found. ${summary}\n`;
  const header = ["SEVERITY", "SCORE", "KEV", "VULNERABILITY", "PACKAGE", "VERSION", "FIXED IN"];
  const rows = findings.map((f) => [
    f.severity.toUpperCase(),
    f.score === undefined ? "-" : f.score.toFixed(1),
    f.knownExploited ? "yes" : "",
    f.aliases.length > 0 ? `${f.vulnId} (${f.aliases[0]})` : f.vulnId,
    `${f.name} [${f.ecosystem}]`,
    f.version,
    f.fixedVersions.join(", ") || "-",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string =>
    r.map((c, i) => (i === r.length - 1 ? c : pad(c, widths[i]!))).join("  ");
  const unscored = findings.filter((f) => f.severity === "unknown").length;
  const counts = `${findings.length} findings, ${unscored} without a CVSS score (severity UNKNOWN).`;
  return `${[line(header), ...rows.map(line)].join("\n")}\n\n${counts} ${summary}\n`;
}
