import { disclosureSettings } from "../../disclosure/settings.ts";
import { type Evaluator, verdict } from "../types.ts";

/**
 * CRA Annex I Part II (5): put in place and enforce a policy on coordinated vulnerability
 * disclosure. Evidence: the published CVD policy (served at /security/policy, linked from
 * security.txt's Policy field).
 */
export const cvdPolicy: Evaluator = {
  id: "II-5",
  clause: "CRA Annex I Part II (5)",
  title: "Coordinated vulnerability disclosure policy",
  async evaluate(ctx) {
    const settings = await disclosureSettings(ctx.db);
    if (!settings?.policy)
      return verdict("not-met", "no CVD policy is published", [
        { source: "settings", detail: "cra.disclosure has no policy" },
      ]);
    return verdict("met", "a CVD policy is published at /security/policy", [
      {
        source: "settings",
        detail: `CVD policy of ${settings.policy.length} characters, updated ${new Date(settings.updatedAt).toISOString()}`,
        at: settings.updatedAt,
      },
    ]);
  },
};
