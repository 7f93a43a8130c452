import { advisedVulnerabilities } from "../../advisory-store.ts";
import { type Evaluator, verdict } from "../types.ts";

/**
 * CRA Annex I Part II (4): once a security update is available, share and publicly disclose
 * information about fixed vulnerabilities. Evidence: a published CSAF advisory covering every
 * vulnerability of the product that is fixed (triaged `fixed`, or gone from a later release).
 */
export const fixedDisclosure: Evaluator = {
  id: "II-4",
  clause: "CRA Annex I Part II (4)",
  title: "Public disclosure of fixed vulnerabilities",
  async evaluate(ctx) {
    const fixed = new Set(
      (await ctx.allFindings())
        .filter((f) => f.triage.state === "fixed" || f.resolution === "no-longer-affected")
        .map((f) => f.vulnerability),
    );
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
