import { advisedReleases } from "../../advisory-store.ts";
import { type Evaluator, NO_UPDATE_SYSTEM, verdict } from "../types.ts";

/**
 * CRA Annex I Part II (8): disseminate security updates without delay and free of charge, with
 * advisory messages for users. Evidence: every release classified `security` carries a published
 * advisory; delivery through the update system (no entitlement gate exists on the platform).
 */
export const updateDissemination: Evaluator = {
  id: "II-8",
  clause: "CRA Annex I Part II (8)",
  title: "Security updates disseminated with advisories",
  async evaluate(ctx) {
    const security = (await ctx.releases()).filter((r) => r.classification === "security");
    const advised = await advisedReleases(ctx.db, ctx.product.id);
    const bare = security.filter((r) => !advised.has(r.id));
    const evidence = [
      ...security.map((r) => ({
        source: "releases",
        detail: `${r.version} (security): ${advised.has(r.id) ? "advisory published" : "no advisory"}`,
        ref: r.id,
      })),
      { source: "platform", detail: "updates are not gated by entitlement" },
    ];
    if (bare.length > 0)
      return verdict(
        "not-met",
        `security release(s) without an advisory: ${bare.map((r) => r.version).join(", ")}`,
        evidence,
      );
    if (!ctx.capabilities.updates)
      return verdict(
        "partly-met",
        `${security.length === 0 ? "no security release yet" : "every security release carries an advisory"}, but ${NO_UPDATE_SYSTEM}`,
        evidence,
      );
    return verdict(
      "met",
      security.length === 0 ? "no security release yet" : "every security release carries an advisory",
      evidence,
    );
  },
};
