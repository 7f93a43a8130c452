import { BSI_TR_03183_2_VERSION, type MinimumElementGap } from "@bulwark/sdk/software/sbom/minimum-elements";
import { type Evaluator, type Evidence, verdict } from "../types.ts";

/** Components named per gap kind in the evidence (the stored report keeps up to 50). */
const FIRST = 3;

function gapDetail(version: string, g: MinimumElementGap, components: number): string {
  const where = g.clause ? ` (BSI TR-03183-2 ${g.clause})` : "";
  if (g.scope === "document") return `${version}: ${g.element}${where}${g.detail ? `: ${g.detail}` : ""}`;
  const first = g.componentRefs.slice(0, FIRST).join(", ");
  const more = g.missingCount > FIRST ? `, … ${g.missingCount - FIRST} more` : "";
  return `${version}: ${g.element}${where}: ${g.missingCount} of ${components} components, e.g. ${first}${more}${g.detail ? ` (${g.detail})` : ""}`;
}

/**
 * CRA Annex I Part II (1): identify and document vulnerabilities and components, including an SBOM
 * in a machine-readable format covering at least the top-level dependencies. Evidence: an SBOM on
 * every release, and its quality against BSI TR-03183-2 v2.1.0 (the gate's gaps per kind: how many
 * components, the first few of them, the clause). Partly met while any SBOM has a gap, or was
 * checked (before the gate moved to v2.1.0) against v2.0 only.
 */
export const sbom: Evaluator = {
  id: "II-1",
  clause: "CRA Annex I Part II (1)",
  title: "SBOM on every release",
  async evaluate(ctx) {
    const releases = await ctx.releases();
    if (releases.length === 0) return verdict("not-met", "the product has no release", []);
    const evidence: Evidence[] = [];
    const without: string[] = [];
    const withGaps: string[] = [];
    const legacy: string[] = [];
    for (const r of releases) {
      const sboms = await ctx.sboms(r.id);
      if (sboms.length === 0) {
        without.push(r.version);
        evidence.push({ source: "sboms", detail: `${r.version}: no SBOM`, ref: r.id });
        continue;
      }
      for (const s of sboms) {
        const report = s.minimumElements;
        const bsi = report.gaps.filter((g) => g.standard === "BSI-TR-03183-2");
        const checked = report.bsiVersion ?? "2.0.0";
        if (report.bsiVersion !== BSI_TR_03183_2_VERSION) legacy.push(r.version);
        if (bsi.length > 0) withGaps.push(r.version);
        const componentGaps = bsi
          .filter((g) => g.scope === "component")
          .reduce((n, g) => n + g.missingCount, 0);
        evidence.push({
          source: "sboms",
          detail:
            `${r.version}: ${s.format} ${s.specVersion}, ${s.components} components; BSI TR-03183-2 v${checked}: ` +
            (bsi.length === 0
              ? "no gap"
              : `${bsi.length} kind(s) of gap (${bsi.filter((g) => g.scope === "document").length} in the document, ${componentGaps} in components)`) +
            (report.bsiVersion === BSI_TR_03183_2_VERSION
              ? ""
              : ` (checked at upload against v${checked}; upload it again to check it against v${BSI_TR_03183_2_VERSION})`),
          ref: s.id,
          at: s.createdAt,
        });
        for (const g of bsi)
          evidence.push({ source: "sboms", detail: gapDetail(r.version, g, s.components), ref: s.id });
      }
    }
    if (without.length > 0)
      return verdict("not-met", `release(s) without an SBOM: ${without.join(", ")}`, evidence);
    if (withGaps.length > 0)
      return verdict(
        "partly-met",
        `SBOMs on every release, with BSI TR-03183-2 v${BSI_TR_03183_2_VERSION} gaps on ${[...new Set(withGaps)].join(", ")}`,
        evidence,
      );
    if (legacy.length > 0)
      return verdict(
        "partly-met",
        `SBOMs on every release; ${[...new Set(legacy)].join(", ")} checked against BSI TR-03183-2 v2.0 only`,
        evidence,
      );
    return verdict(
      "met",
      `every release has an SBOM meeting BSI TR-03183-2 v${BSI_TR_03183_2_VERSION}'s required fields`,
      evidence,
    );
  },
};
