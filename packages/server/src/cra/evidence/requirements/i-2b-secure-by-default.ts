import { type Evaluator, verdict } from "../types.ts";

/**
 * CRA Annex I Part I (2)(b): secure by default configuration, with the possibility to reset the
 * product to its original state. Evidence: the policies of the product's device groups (automatic
 * updates, security-event logging, TLS 1.3 only) and a passing factory-reset test record; the
 * agent's `bulwark-agent reset` restores the first-boot state; without a test record of it this is
 * partly met.
 */
export const secureByDefault: Evaluator = {
  id: "I-2(b)",
  clause: "CRA Annex I Part I (2)(b)",
  title: "Secure by default, with reset to the original state",
  async evaluate(ctx) {
    const policies = await ctx.groupPolicies();
    if (policies.length === 0)
      return verdict(
        "not-met",
        "no device group is linked to the product, so no default configuration is evidenced",
        [],
      );
    const weak = policies.filter(
      (p) =>
        p.settings.updates.mode !== "automatic" ||
        !p.settings.securityEventLogging ||
        p.settings.tls.minVersion !== "TLSv1.3",
    );
    const evidence = policies.map((p) => ({
      source: "device_policies",
      detail: `group ${p.group}: ${p.policy ? `${p.policy} v${p.version}` : "agent defaults"}; updates ${p.settings.updates.mode}, security logging ${p.settings.securityEventLogging ? "on" : "off"}, ${p.settings.tls.minVersion}`,
    }));
    const resets = await ctx.passedTests("factory-reset");
    evidence.push(
      ...resets.map((t) => ({
        source: "cra_test_records",
        detail: `factory reset tested: ${t.summary}`,
        ref: t.id,
        at: t.performedAt,
      })),
    );
    if (weak.length > 0)
      return verdict(
        "not-met",
        `${weak.length} group(s) run a policy that is not secure by default: ${weak.map((w) => w.group).join(", ")}`,
        evidence,
      );
    if (resets.length === 0)
      return verdict(
        "partly-met",
        "defaults are secure, but no passing factory-reset test (bulwark-agent reset) recorded in the last 12 months",
        evidence,
      );
    return verdict(
      "met",
      "secure defaults in every group's policy and a tested reset to the original state",
      evidence,
    );
  },
};
