import { verifyAuditChain } from "../../../audit/audit-log.ts";
import { type Evaluator, verdict } from "../types.ts";

/**
 * CRA Annex I Part I (2)(l): record and monitor relevant internal activity, with an opt-out for
 * the user. Evidence: the audit chain verifies end to end; the groups' policies keep device
 * security-event logging on; devices that opted out did so on record.
 */
export const monitoring: Evaluator = {
  id: "I-2(l)",
  clause: "CRA Annex I Part I (2)(l)",
  title: "Recording and monitoring of internal activity",
  async evaluate(ctx) {
    const chain = await verifyAuditChain(ctx.db);
    const policies = await ctx.groupPolicies();
    const off = policies.filter((p) => !p.settings.securityEventLogging);
    const devices = await ctx.devices();
    const optedOut = devices.filter((d) => d.eventLogging !== "on").length;
    const evidence = [
      {
        source: "audit_log",
        detail: chain.problem
          ? `chain broken at ${chain.problem.seq}: ${chain.problem.problem}`
          : `chain verifies (${chain.entries} entries)`,
      },
      ...policies.map((p) => ({
        source: "device_policies",
        detail: `group ${p.group}: security-event logging ${p.settings.securityEventLogging ? "on" : "off"}`,
      })),
      {
        source: "devices",
        detail: `${optedOut} of ${devices.length} device(s) opted out of security-event logging (recorded)`,
      },
    ];
    if (chain.problem) return verdict("not-met", "the audit chain does not verify", evidence);
    if (policies.length === 0)
      return verdict("partly-met", "no device group is linked, so device logging is not evidenced", evidence);
    if (off.length > 0)
      return verdict(
        "partly-met",
        `security-event logging is off by policy in ${off.map((o) => o.group).join(", ")}`,
        evidence,
      );
    return verdict("met", "the audit chain verifies and device security logging is on by default", evidence);
  },
};
