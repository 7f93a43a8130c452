import { disclosureSettings } from "../../disclosure/settings.ts";
import { type Evaluator, verdict } from "../types.ts";

/**
 * CRA Annex I Part II (6): facilitate the sharing of information about potential vulnerabilities,
 * including a contact address for reports. Evidence: security.txt (RFC 9116) with a Contact and an
 * unexpired Expires, and the public intake accepting reports; the reports received.
 */
export const reportingContact: Evaluator = {
  id: "II-6",
  clause: "CRA Annex I Part II (6)",
  title: "Vulnerability reporting contact and intake",
  async evaluate(ctx) {
    const settings = await disclosureSettings(ctx.db);
    if (!settings || settings.contact.length === 0)
      return verdict("not-met", "no security contact is published (security.txt has no Contact)", []);
    const received = await ctx.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM cra_intake_reports`);
    const evidence = [
      {
        source: "security.txt",
        detail: `Contact: ${settings.contact.join(", ")}; Expires ${new Date(settings.expiresAt).toISOString()}`,
      },
      {
        source: "intake",
        detail: `${settings.intakeEnabled ? "open" : "closed"}; ${Number(received?.n ?? 0)} report(s) received`,
      },
    ];
    // RFC 9116 §2.5.5: a file past its Expires must not be used.
    if (settings.expiresAt <= ctx.now) return verdict("partly-met", "security.txt has expired", evidence);
    if (!settings.intakeEnabled)
      return verdict("partly-met", "a contact is published, but the public intake is closed", evidence);
    return verdict("met", "security.txt with a contact, and a public intake", evidence);
  },
};
