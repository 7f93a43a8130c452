import {
  type AuditVerification,
  verifyAuditChainFull,
  verifyAuditChainIncremental,
} from "../../../audit/audit-log.ts";
import { type Evaluator, verdict } from "../types.ts";

const iso = (ms: number) => new Date(ms).toISOString();

/** What the verification read, so the evidence says what was verified and when. */
function chainDetail(chain: AuditVerification, now: number): string {
  if (chain.problem)
    return `chain broken at ${chain.problem.seq}: ${chain.problem.problem} (${chain.mode} verification)`;
  if (chain.mode === "full")
    return `chain verifies: every entry (${chain.firstSeq}–${chain.lastSeq}, ${chain.entries} entries) walked at ${iso(now)} (full verification)`;
  const from = chain.from!;
  return (
    `chain verifies: entries ${from.seq + 1}–${chain.lastSeq} (${chain.entries} new) walked at ${iso(now)} ` +
    `from the verified point at entry ${from.seq}, whose hash and the number of entries before it still match; ` +
    `the entries up to it were walked in full at ${iso(chain.fullAt)} (incremental verification; ?full=1 walks them all)`
  );
}

/**
 * CRA Annex I Part I (2)(l): record and monitor relevant internal activity, with an opt-out for
 * the user. Evidence: the audit chain verifies (incrementally from the last verified point, fully
 * at least every two hours, or on `?full=1`); the groups' policies keep device
 * security-event logging on; devices that opted out did so on record.
 */
export const monitoring: Evaluator = {
  id: "I-2(l)",
  clause: "CRA Annex I Part I (2)(l)",
  title: "Recording and monitoring of internal activity",
  async evaluate(ctx) {
    // Incremental: only the entries after the last verified point (a full walk at most every 2 h).
    const chain = ctx.fullAuditVerification
      ? await verifyAuditChainFull(ctx.db, undefined, ctx.now)
      : await verifyAuditChainIncremental(ctx.db, { now: ctx.now });
    const policies = await ctx.groupPolicies();
    const off = policies.filter((p) => !p.settings.securityEventLogging);
    const devices = await ctx.devices();
    const optedOut = devices.filter((d) => d.eventLogging !== "on").length;
    const evidence = [
      {
        source: "audit_log",
        detail: chainDetail(chain, ctx.now),
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
