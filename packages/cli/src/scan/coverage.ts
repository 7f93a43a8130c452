/**
 * What the advisory data could and could not speak about, so that "no known vulnerabilities" is
 * never said of components nothing was known about: per ecosystem, how many components had
 * advisory data, and which advisories could not be evaluated.
 */
import type { EcosystemCoverage, ScanResult, UnevaluatedAdvisory } from "@bulwark/sdk/software/scan";

/** Ecosystems of the SBOM that the OSV data has no advisory for at all. */
export function uncovered(result: ScanResult): EcosystemCoverage[] {
  return result.coverage.filter((c) => c.advisories === 0);
}

const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

/** One line per ecosystem: "npm 3 of 40 components had advisory data (1,204 advisories)". */
export function coverageLines(result: ScanResult): string[] {
  return result.coverage.map(
    (c) =>
      `  ${c.ecosystem}: ${c.withAdvisoryData} of ${plural(c.components, "component", "components")} had advisory data` +
      (c.advisories === 0
        ? " (the OSV data has no advisories for this ecosystem)"
        : ` (${c.advisories} advisories)`),
  );
}

function named(u: UnevaluatedAdvisory): string {
  return `${u.id} (${u.ecosystem} ${u.package})`;
}

/** The stderr notes: ecosystems without data, advisories that could not be evaluated. */
export function coverageNotes(result: ScanResult): string {
  const notes: string[] = [];
  const missing = uncovered(result);
  if (missing.length > 0 && missing.length === result.coverage.length)
    notes.push(
      `bulwark scan: warning: the OSV data has no advisories for any ecosystem of this SBOM (${missing.map((c) => c.ecosystem).join(", ")}): nothing was checked`,
    );
  else if (missing.length > 0)
    notes.push(
      `bulwark scan: warning: the OSV data has no advisories for ${missing.map((c) => `${c.ecosystem} (${plural(c.components, "component", "components")})`).join(", ")}: those components were not checked`,
    );
  if (result.unevaluated.length > 0)
    notes.push(
      `bulwark scan: ${plural(result.unevaluated.length, "advisory", "advisories")} for packages of this SBOM could not be evaluated (a version does not parse in its ecosystem): ${result.unevaluated.map(named).join(", ")}`,
    );
  return notes.map((n) => `${n}\n`).join("");
}
