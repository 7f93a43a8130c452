import { type Evaluator, verdict } from "../types.ts";

const GRACE_MS = 30 * 24 * 3600 * 1000;

/**
 * CRA Annex I Part II (2): address and remediate vulnerabilities without delay, including by
 * security updates, provided apart from feature updates where technically feasible. Evidence:
 * how long the current release's affected findings have been open, and whether fixes shipped as
 * releases classified `security`.
 */
export const remediation: Evaluator = {
  id: "II-2",
  clause: "CRA Annex I Part II (2)",
  title: "Remediation without delay, security updates apart",
  async evaluate(ctx) {
    const releases = await ctx.releases();
    const current = releases.at(-1);
    if (!current) return verdict("not-met", "the product has no release", []);
    const security = releases.filter((r) => r.classification === "security");
    const open = (await ctx.findings(current.id)).filter(
      (f) =>
        f.status === "open" &&
        (f.triage.state === "affected" || f.knownExploited) &&
        f.triage.state !== "not_affected",
    );
    const late = open.filter((f) => ctx.now - f.createdAt > GRACE_MS);
    const fixed = (await ctx.allFindings()).filter(
      (f) => f.triage.state === "fixed" || f.resolution === "no-longer-affected",
    );
    const evidence = [
      {
        source: "releases",
        detail: `${security.length} security and ${releases.length - security.length} feature release(s)`,
      },
      { source: "findings", detail: `${fixed.length} finding(s) fixed or no longer affecting a release` },
      ...open.map((f) => ({
        source: "findings",
        detail: `${f.vulnerability} open for ${Math.floor((ctx.now - f.createdAt) / 86_400_000)} day(s)`,
        ref: f.id,
      })),
    ];
    if (late.length > 0)
      return verdict(
        "not-met",
        `${late.length} exploitable finding(s) open on ${current.version} for more than 30 days`,
        evidence,
      );
    if (fixed.length > 0 && security.length === 0)
      return verdict(
        "partly-met",
        "vulnerabilities were fixed, but no release is classified as a security update",
        evidence,
      );
    if (open.length > 0)
      return verdict(
        "partly-met",
        `${open.length} exploitable finding(s) open on ${current.version}, within 30 days`,
        evidence,
      );
    return verdict("met", "no exploitable finding left open, security releases kept apart", evidence);
  },
};
