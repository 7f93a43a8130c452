import { type Evaluator, NO_UPDATE_SYSTEM, verdict } from "../types.ts";

/**
 * CRA Annex I Part I (2)(c): vulnerabilities can be addressed through security updates, automatic
 * by default, with a clear opt-out, user notification and the option to postpone. Evidence: the
 * groups' update policies and the update system (repository live, security releases delivered).
 */
export const securityUpdates: Evaluator = {
  id: "I-2(c)",
  clause: "CRA Annex I Part I (2)(c)",
  title: "Automatic security updates with opt-out and deferral",
  async evaluate(ctx) {
    const policies = await ctx.groupPolicies();
    if (policies.length === 0) return verdict("not-met", "no device group is linked to the product", []);
    const evidence = policies.map((p) => ({
      source: "device_policies",
      detail: `group ${p.group}: mode ${p.settings.updates.mode}, opt-out ${p.settings.updates.optOutAllowed ? "allowed" : "not allowed"}, deferral up to ${p.settings.updates.deferralLimitDays} day(s)`,
    }));
    const bad = policies.filter(
      (p) => p.settings.updates.mode !== "automatic" || !p.settings.updates.optOutAllowed,
    );
    if (bad.length > 0)
      return verdict(
        "not-met",
        `automatic updates with a user opt-out are not the default in: ${bad.map((b) => b.group).join(", ")}`,
        evidence,
      );
    const updates = ctx.capabilities.updates;
    if (!updates)
      return verdict("partly-met", `update policies are right, but ${NO_UPDATE_SYSTEM}`, evidence);
    const repo = await updates.repository(ctx.db, ctx.product.id);
    const delivered = await updates.deliveredSecurityReleases(ctx.db, ctx.product.id);
    evidence.push({ source: "updates", detail: repo ? repo.detail : "no update repository for the product" });
    evidence.push({ source: "updates", detail: `${delivered} security release(s) delivered` });
    if (!repo?.active) return verdict("not-met", "the product has no live update repository", evidence);
    return verdict(
      "met",
      "automatic updates by default, opt-out and deferral configured, repository live",
      evidence,
    );
  },
};
