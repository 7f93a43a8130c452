import { type Evaluator, verdict } from "../types.ts";

/**
 * CRA Annex I Part II (1): identify and document vulnerabilities and components, including an SBOM
 * in a machine-readable format covering at least the top-level dependencies. Evidence: an SBOM on
 * every release, and its quality against BSI TR-03183-2 (the gate's gaps, listed).
 */
export const sbom: Evaluator = {
  id: "II-1",
  clause: "CRA Annex I Part II (1)",
  title: "SBOM on every release",
  async evaluate(ctx) {
    const releases = await ctx.releases();
    if (releases.length === 0) return verdict("not-met", "the product has no release", []);
    const evidence = [];
    const without: string[] = [];
    const gaps: string[] = [];
    for (const r of releases) {
      const sboms = await ctx.sboms(r.id);
      if (sboms.length === 0) {
        without.push(r.version);
        evidence.push({ source: "sboms", detail: `${r.version}: no SBOM`, ref: r.id });
        continue;
      }
      for (const s of sboms) {
        const bsi = s.minimumElements.gaps.filter((g) => g.standard === "BSI-TR-03183-2");
        if (bsi.length > 0) gaps.push(r.version);
        evidence.push({
          source: "sboms",
          detail: `${r.version}: ${s.format} ${s.specVersion}, ${s.components} components; BSI TR-03183-2 ${bsi.length === 0 ? "complete" : `gaps: ${bsi.map((g) => `${g.element}${g.scope === "component" ? ` (${g.missingCount})` : ""}`).join(", ")}`}`,
          ref: s.id,
        });
      }
    }
    if (without.length > 0)
      return verdict("not-met", `release(s) without an SBOM: ${without.join(", ")}`, evidence);
    if (gaps.length > 0)
      return verdict(
        "partly-met",
        `SBOMs on every release, with BSI TR-03183-2 gaps on ${[...new Set(gaps)].join(", ")}`,
        evidence,
      );
    return verdict("met", "every release has an SBOM meeting BSI TR-03183-2's required fields", evidence);
  },
};
