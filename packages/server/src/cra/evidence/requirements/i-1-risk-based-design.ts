import { YEAR_MS } from "../context.ts";
import { type Evaluator, type Evidence, type RequirementStatus, verdict, worst } from "../types.ts";

/**
 * CRA Annex I Part I (1): designed, developed and produced for a level of cybersecurity
 * appropriate to the risks. Evidence: a current risk assessment (Art. 13(2)–(3), reviewed within a
 * year) and the status of every other requirement, which the engine hands in as `others`.
 */
export function riskBasedDesign(others: () => RequirementStatus[]): Evaluator {
  return {
    id: "I-1",
    clause: "CRA Annex I Part I (1)",
    title: "Cybersecurity appropriate to the risks",
    async evaluate(ctx) {
      const risk = await ctx.risk();
      if (!risk)
        return verdict("not-met", "no risk assessment is recorded for the product (Art. 13(2))", [
          { source: "cra_risk_assessments", detail: "no version" },
        ]);
      const evidence: Evidence[] = [
        {
          source: "cra_risk_assessments",
          detail: `version ${risk.version}: ${risk.document.assets.length} assets, ${risk.document.threats.length} threats`,
          ref: risk.sha256,
          at: risk.createdAt,
        },
      ];
      if (risk.createdAt < ctx.now - YEAR_MS)
        return verdict(
          "partly-met",
          "the risk assessment is more than a year old (Art. 13(3): kept up to date)",
          evidence,
        );
      const rest = others();
      const open = rest.filter((s) => s !== "met" && s !== "not-applicable").length;
      evidence.push({
        source: "annex-i",
        detail: `${rest.length - open} of ${rest.length} other requirements met or not applicable`,
      });
      return worst(rest) === "met"
        ? verdict(
            "met",
            "a current risk assessment, and every other requirement met or not applicable",
            evidence,
          )
        : verdict(
            "partly-met",
            `a current risk assessment, but ${open} other requirement(s) are not fully met`,
            evidence,
          );
    },
  };
}
