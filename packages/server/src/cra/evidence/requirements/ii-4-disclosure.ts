import { advisedVulnerabilities } from "../../advisory-store.ts";
import { fixedBy } from "../../csaf/publish.ts";
import { type Evaluator, verdict } from "../types.ts";

/**
 * CRA Annex I Part II (4): once a security update is available, share and publicly disclose
 * information about fixed vulnerabilities. Evidence: a published CSAF advisory covering every
 * vulnerability of the product that is fixed: gone from (or triaged fixed on) a later release
 * that has an SBOM, or triaged `fixed`.
 */
export const fixedDisclosure: Evaluator = {
  id: "II-4",
  clause: "CRA Annex I Part II (4)",
  title: "Public disclosure of fixed vulnerabilities",
  async evaluate(ctx) {
    const releases = await ctx.releases();
    const fixed = new Set(
      (await ctx.allFindings()).filter((f) => f.triage.state === "fixed").map((f) => f.vulnerability),
    );
    for (const release of releases)
      if ((await ctx.sboms(release.id)).length > 0)
        for (const v of (await fixedBy(ctx.db, releases, release)).keys()) fixed.add(v);
    const advised = await advisedVulnerabilities(ctx.db, ctx.product.id);
    const missing = [...fixed].filter((v) => !advised.has(v)).sort();
    const evidence = [
      { source: "findings", detail: `${fixed.size} fixed vulnerabilit${fixed.size === 1 ? "y" : "ies"}` },
      {
        source: "cra_advisories",
        detail: `${advised.size} vulnerabilit${advised.size === 1 ? "y" : "ies"} covered by a published CSAF advisory`,
      },
      ...missing.map((v) => ({ source: "cra_advisories", detail: `no advisory for ${v}`, ref: v })),
    ];
    if (missing.length > 0)
      return verdict("not-met", `fixed without a published advisory: ${missing.join(", ")}`, evidence);
    return verdict(
      "met",
      fixed.size === 0
        ? "no fixed vulnerability awaits disclosure"
        : "every fixed vulnerability has a published advisory",
      evidence,
    );
  },
};
