import type { Evaluator } from "../types.ts";
import { verdict } from "../types.ts";

/**
 * CRA Annex I Part I (2)(a): made available without known exploitable vulnerabilities. Evidence:
 * the current release's SBOM scanned against the imported advisories: open findings without a
 * `not_affected` or `fixed` VEX decision, and whether any of them is known-exploited (CISA KEV).
 */
export const noKnownVulnerabilities: Evaluator = {
  id: "I-2(a)",
  clause: "CRA Annex I Part I (2)(a)",
  title: "No known exploitable vulnerabilities",
  async evaluate(ctx) {
    const release = await ctx.currentRelease();
    if (!release) return verdict("not-met", "the product has no release to assess", []);
    const sboms = await ctx.sboms(release.id);
    if (sboms.length === 0)
      return verdict("not-met", `release ${release.version} has no SBOM, so it cannot be scanned`, [
        { source: "sboms", detail: `none for ${release.version}`, ref: release.id },
      ]);
    const advisories = await ctx.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM vulnerabilities`);
    const open = (await ctx.findings(release.id)).filter(
      (f) => f.status === "open" && f.triage.state !== "not_affected" && f.triage.state !== "fixed",
    );
    const exploited = open.filter((f) => f.knownExploited);
    const affected = open.filter((f) => f.triage.state === "affected");
    const evidence = [
      { source: "sboms", detail: `${sboms.length} SBOM(s) on ${release.version}`, ref: release.id },
      { source: "vulnerabilities", detail: `${Number(advisories?.n ?? 0)} advisories imported` },
      ...open.map((f) => ({
        source: "findings",
        detail: `${f.vulnerability} in ${f.component.name}@${f.component.version}: ${f.triage.state}${f.knownExploited ? ", known exploited" : ""}`,
        ref: f.id,
      })),
    ];
    if (exploited.length > 0)
      return verdict(
        "not-met",
        `${exploited.length} open known-exploited finding(s) on ${release.version}`,
        evidence,
      );
    if (affected.length > 0)
      return verdict(
        "not-met",
        `${affected.length} open finding(s) triaged affected on ${release.version}`,
        evidence,
      );
    if (open.length > 0)
      return verdict(
        "partly-met",
        `${open.length} open finding(s) on ${release.version} still under investigation`,
        evidence,
      );
    if (Number(advisories?.n ?? 0) === 0)
      return verdict(
        "partly-met",
        "no vulnerability data has been imported, so the scan shows nothing",
        evidence,
      );
    return verdict(
      "met",
      `no open finding on ${release.version} without a not_affected or fixed VEX statement`,
      evidence,
    );
  },
};
