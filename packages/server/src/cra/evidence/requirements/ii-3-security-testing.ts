import { type Evaluator, verdict } from "../types.ts";

/**
 * CRA Annex I Part II (3): apply effective and regular tests and reviews of security. Evidence:
 * security test records of the last 12 months, and which releases of that period have one.
 */
export const securityTesting: Evaluator = {
  id: "II-3",
  clause: "CRA Annex I Part II (3)",
  title: "Regular security tests and reviews",
  async evaluate(ctx) {
    const tests = await ctx.recentTests();
    const recent = (await ctx.releases()).filter((r) => r.createdAt >= ctx.now - 365 * 86_400_000);
    const tested = new Set(tests.map((t) => t.releaseId));
    const untested = recent.filter((r) => !tested.has(r.id));
    const evidence = [
      ...tests.map((t) => ({
        source: "cra_test_records",
        detail: `${t.kind} with ${t.tool}: ${t.outcome}`,
        ref: t.id,
        at: t.performedAt,
      })),
      ...untested.map((r) => ({
        source: "releases",
        detail: `${r.version}: no security test record`,
        ref: r.id,
      })),
    ];
    if (tests.length === 0)
      return verdict("not-met", "no security test or review recorded in the last 12 months", evidence);
    if (untested.length > 0)
      return verdict(
        "partly-met",
        `release(s) of the last 12 months without a test record: ${untested.map((r) => r.version).join(", ")}`,
        evidence,
      );
    return verdict(
      "met",
      `${tests.length} test record(s) in 12 months, every recent release tested`,
      evidence,
    );
  },
};
