/** Plain-text table of findings for terminals. */
import type { Finding } from "@bulwark/sdk/software/scan";

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + " ".repeat(n - s.length);
}

export interface TableNotes {
  /** One line per ecosystem of the SBOM: how many components had advisory data. */
  coverage: string[];
  /** The data has no advisory for any ecosystem of the SBOM: "none found" would say nothing. */
  nothingChecked: boolean;
  /** Advisories for the SBOM's packages that could not be evaluated. */
  unevaluated: number;
}

function footer(notes: TableNotes): string {
  const lines = notes.coverage.length > 0 ? ["Advisory data per ecosystem:", ...notes.coverage] : [];
  if (notes.unevaluated > 0)
    lines.push(`${notes.unevaluated} advisories could not be evaluated (named on stderr).`);
  return lines.map((l) => `${l}\n`).join("");
}

/** Findings sorted by the caller (severity first); coverage and unevaluated advisories below. */
export function toTable(findings: readonly Finding[], summary: string, notes: TableNotes): string {
  if (findings.length === 0) {
    const head = notes.nothingChecked
      ? "Nothing was checked: the OSV data has no advisories for the ecosystems of this SBOM."
      : "No known vulnerabilities found.";
    return `${head} ${summary}\n${footer(notes)}`;
  }
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
  return `${[line(header), ...rows.map(line)].join("\n")}\n\n${counts} ${summary}\n${footer(notes)}`;
}
