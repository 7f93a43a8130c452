import { type Evaluator, NO_UPDATE_SYSTEM, verdict } from "../types.ts";

/**
 * CRA Annex I Part II (7): mechanisms to securely distribute updates, automatically for security
 * updates where applicable. Evidence: a live update repository for the product and security
 * releases delivered through it; hybrid-signed artifacts on their own are not distribution.
 */
export const updateDistribution: Evaluator = {
  id: "II-7",
  clause: "CRA Annex I Part II (7)",
  title: "Secure update distribution",
  async evaluate(ctx) {
    const signed = await ctx.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM release_signatures`);
    const evidence = [
      {
        source: "release_signatures",
        detail: `${Number(signed?.n ?? 0)} hybrid-signed artifact(s) on the platform`,
      },
    ];
    const updates = ctx.capabilities.updates;
    if (!updates) return verdict("not-met", NO_UPDATE_SYSTEM, evidence);
    const repo = await updates.repository(ctx.db, ctx.product.id);
    const delivered = await updates.deliveredSecurityReleases(ctx.db, ctx.product.id);
    evidence.push(
      { source: "updates", detail: repo ? repo.detail : "no repository" },
      { source: "updates", detail: `${delivered} security release(s) delivered` },
    );
    if (!repo?.active) return verdict("not-met", "the product has no live update repository", evidence);
    if (delivered === 0)
      return verdict(
        "partly-met",
        "a repository is live, but no security release has been delivered yet",
        evidence,
      );
    return verdict("met", "a live signed repository delivering security releases", evidence);
  },
};
