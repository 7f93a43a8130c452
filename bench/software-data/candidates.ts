/**
 * Test data for the software benchmarks: real (package, version) pairs named by the OSV advisories
 * in test/data (Go vulndb, PyPA) and a deterministic random source to draw SBOMs from them.
 */
import type { OsvRecord } from "../../packages/sdk/src/software/osv/types.ts";

/** Deterministic pseudo-random numbers (a 32-bit LCG, Numerical Recipes constants). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export interface Candidate {
  purl: string;
  name: string;
  version: string;
}

/** Real (package, version) pairs named by the advisories: introduced, fixed and listed versions. */
export function candidates(records: readonly OsvRecord[]): Candidate[] {
  const out = new Map<string, Candidate>();
  for (const r of records)
    for (const a of r.affected) {
      const pkg = a.package;
      // Go's "stdlib" and "toolchain" are pseudo-packages no SBOM names as a module.
      if (
        pkg === undefined ||
        (pkg.ecosystem === "Go" && (pkg.name === "stdlib" || pkg.name === "toolchain"))
      )
        continue;
      const versions = [...a.versions];
      for (const range of a.ranges)
        if (range.type !== "GIT")
          for (const e of range.events) if (e.version !== "0" && e.kind !== "limit") versions.push(e.version);
      for (const v of versions) {
        const c =
          pkg.ecosystem === "Go"
            ? { purl: `pkg:golang/${pkg.name}@v${v}`, name: pkg.name, version: `v${v}` }
            : pkg.ecosystem === "PyPI"
              ? { purl: `pkg:pypi/${pkg.name.toLowerCase()}@${v}`, name: pkg.name, version: v }
              : undefined;
        if (c) out.set(c.purl, c);
      }
    }
  return [...out.values()].sort((a, b) => (a.purl < b.purl ? -1 : a.purl > b.purl ? 1 : 0));
}
