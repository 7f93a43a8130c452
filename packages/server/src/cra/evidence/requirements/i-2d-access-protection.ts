import { mfaRequiredRoles } from "../../../access/mfa.ts";
import { type Evaluator, verdict } from "../types.ts";

/**
 * CRA Annex I Part I (2)(d): protection from unauthorised access by authentication, identity and
 * access management, and reporting of possible unauthorised access. Evidence: each active device
 * holds a valid certificate of its own (mutual TLS identity), the second factor is enforced for
 * administrators, administrators have enrolled it, failed access is recorded.
 */
export const accessProtection: Evaluator = {
  id: "I-2(d)",
  clause: "CRA Annex I Part I (2)(d)",
  title: "Protection from unauthorised access",
  async evaluate(ctx) {
    const devices = (await ctx.devices()).filter((d) => d.status === "active" || d.status === "quarantined");
    const withCert = await ctx.db.all<{ device_id: string }>(
      `SELECT DISTINCT device_id FROM certificates WHERE status = 'valid' AND not_after > ? AND device_id IS NOT NULL`,
      [ctx.now],
    );
    const certified = new Set(withCert.map((r) => r.device_id));
    const missing = devices.filter((d) => !certified.has(d.id));
    const roles = await mfaRequiredRoles(ctx.db);
    const admins = await ctx.db.get<{ n: number; enrolled: number }>(
      `SELECT COUNT(*) AS n, SUM(CASE WHEN t.enabled = 1 THEN 1 ELSE 0 END) AS enrolled
       FROM users u LEFT JOIN user_totp t ON t.user_id = u.id WHERE u.role = 'admin'`,
    );
    const failures = await ctx.db.get<{ n: number }>(
      `SELECT COUNT(*) AS n FROM audit_log WHERE outcome IN ('failure', 'denied') AND at > ?`,
      [ctx.now - 30 * 24 * 3600 * 1000],
    );
    const evidence = [
      {
        source: "certificates",
        detail: `${devices.length - missing.length} of ${devices.length} active device(s) hold a valid certificate of their own`,
      },
      { source: "settings", detail: `second factor required for: ${roles.join(", ") || "no role"}` },
      {
        source: "user_totp",
        detail: `${Number(admins?.enrolled ?? 0)} of ${Number(admins?.n ?? 0)} administrator account(s) enrolled TOTP`,
      },
      {
        source: "audit_log",
        detail: `${Number(failures?.n ?? 0)} failed or denied access attempt(s) recorded in 30 days`,
      },
    ];
    if (missing.length > 0)
      return verdict("not-met", `${missing.length} active device(s) without a valid certificate`, evidence);
    if (!roles.includes("admin"))
      return verdict("partly-met", "the second factor is not enforced for administrators", evidence);
    return verdict(
      "met",
      "device identity from certificates, administrators under a second factor, failures recorded",
      evidence,
    );
  },
};
