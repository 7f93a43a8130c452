import type { CvssScore } from "@bulwark/sdk/software/osv/cvss";
import { sortKeys } from "./naming.ts";

/** What an advisory is built from (all read from live platform state by `publish.ts`). */
export interface AdvisoryInput {
  trackingId: string;
  title: string;
  publisher: { name: string; namespace: string };
  product: { name: string; vendor: string };
  /** Versions affected, and the release that fixes them. */
  affected: { version: string; purl: string }[];
  fixed: { version: string; purl: string };
  vulnerabilities: {
    id: string;
    aliases: string[];
    summary: string;
    cvss: CvssScore | undefined;
    knownExploited: boolean;
  }[];
  canonicalUrl: string;
  releasedAt: number;
  generator: string;
}

const pid = (version: string) => `CSAFPID-${version.replace(/[^A-Za-z0-9._-]/g, "_")}`;
const iso = (ms: number) => new Date(ms).toISOString();
const CVE = /^CVE-[0-9]{4}-[0-9]{4,}$/;

function cvssEntry(score: CvssScore, products: string[]) {
  // CSAF 2.0 §3.2.3.12: cvss_v2 / cvss_v3 (FIRST JSON schemas); a v4 vector has no place in 2.0.
  if (score.version === "3.0" || score.version === "3.1")
    return {
      products,
      cvss_v3: {
        version: score.version,
        vectorString: score.vector,
        baseScore: score.baseScore,
        baseSeverity: score.rating.toUpperCase(),
      },
    };
  if (score.version === "2.0")
    return { products, cvss_v2: { version: "2.0", vectorString: score.vector, baseScore: score.baseScore } };
  return undefined;
}

function vulnerability(
  v: AdvisoryInput["vulnerabilities"][number],
  affected: string[],
  fixed: string,
  fixedVersion: string,
) {
  const ids = [v.id, ...v.aliases].filter((id, i, all) => !CVE.test(id) && all.indexOf(id) === i);
  const cve = [v.id, ...v.aliases].find((id) => CVE.test(id));
  const score = v.cvss && cvssEntry(v.cvss, affected);
  return {
    ...(cve ? { cve } : {}),
    ...(ids.length ? { ids: ids.map((text) => ({ system_name: text.split("-")[0]!, text })) } : {}),
    notes: [{ category: "description", text: v.summary, title: "Description" }],
    product_status: { fixed: [fixed], known_affected: affected },
    remediations: [
      {
        category: "vendor_fix",
        details: `Update to version ${fixedVersion} or later.`,
        product_ids: affected,
      },
    ],
    ...(score ? { scores: [score] } : {}),
    ...(v.knownExploited
      ? {
          threats: [
            {
              category: "exploit_status",
              details: "Listed in the CISA Known Exploited Vulnerabilities catalogue.",
              product_ids: affected,
            },
          ],
        }
      : {}),
  };
}

/**
 * A CSAF 2.0 security advisory (profile csaf_security_advisory, §4.5): TLP:WHITE, a product tree
 * vendor → product → versions, one vulnerability entry per fixed vulnerability with the affected
 * versions, the fixing version, a vendor fix, its CVSS score. CRA Annex I Part II (4).
 */
export function buildAdvisory(input: AdvisoryInput): Record<string, unknown> {
  const affected = input.affected.map((a) => pid(a.version));
  const fixed = pid(input.fixed.version);
  const versions = [...input.affected, input.fixed].map((v) => ({
    category: "product_version",
    name: v.version,
    product: {
      name: `${input.product.vendor} ${input.product.name} ${v.version}`,
      product_id: pid(v.version),
      product_identification_helper: { purl: v.purl },
    },
  }));
  const at = iso(input.releasedAt);
  return sortKeys({
    document: {
      category: "csaf_security_advisory",
      csaf_version: "2.0",
      distribution: { tlp: { label: "WHITE", url: "https://www.first.org/tlp/" } },
      lang: "en",
      notes: [
        {
          category: "summary",
          title: "Summary",
          text: `${input.product.name} ${input.fixed.version} fixes ${input.vulnerabilities.map((v) => v.id).join(", ")}.`,
        },
      ],
      publisher: { category: "vendor", name: input.publisher.name, namespace: input.publisher.namespace },
      references: [{ category: "self", summary: "Canonical URL", url: input.canonicalUrl }],
      title: input.title,
      tracking: {
        current_release_date: at,
        generator: { date: at, engine: { name: "Bulwark", version: input.generator } },
        id: input.trackingId,
        initial_release_date: at,
        revision_history: [{ date: at, number: "1", summary: "Initial version" }],
        status: "final",
        version: "1",
      },
    },
    product_tree: {
      branches: [
        {
          category: "vendor",
          name: input.product.vendor,
          branches: [{ category: "product_name", name: input.product.name, branches: versions }],
        },
      ],
    },
    vulnerabilities: input.vulnerabilities.map((v) => vulnerability(v, affected, fixed, input.fixed.version)),
  }) as Record<string, unknown>;
}
