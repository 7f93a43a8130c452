import type { CvssScore } from "@bulwark/sdk/software/osv/cvss";
import type { Finding } from "../../software/findings.ts";
import { toOpenVexJustification } from "../../software/triage.ts";
import { sortKeys } from "./naming.ts";

/** What a CSAF VEX document of one release is built from. */
export interface VexInput {
  trackingId: string;
  publisher: { name: string; namespace: string };
  vendor: string;
  product: string;
  version: string;
  releasePurl: string;
  findings: readonly Finding[];
  cvss: ReadonlyMap<string, CvssScore | undefined>;
  canonicalUrl: string;
  at: number;
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, "_");
const CVE = /^CVE-[0-9]{4}-[0-9]{4,}$/;

type Status = "known_affected" | "known_not_affected" | "fixed" | "under_investigation";

// The triage state as a CSAF product status (CSAF 2.0 §3.2.3.9).
function statusOf(f: Finding): Status {
  switch (f.triage.state) {
    case "affected":
      return "known_affected";
    case "not_affected":
      return "known_not_affected";
    case "fixed":
      return "fixed";
    case "under_investigation":
      return "under_investigation";
  }
}

function vulnerability(
  id: string,
  findings: readonly Finding[],
  pidOf: (f: Finding) => string,
  cvss: CvssScore | undefined,
) {
  const status: Partial<Record<Status, string[]>> = {};
  for (const f of findings) status[statusOf(f)] = [...(status[statusOf(f)] ?? []), pidOf(f)];
  const affected = findings.filter((f) => f.triage.state === "affected");
  const notAffected = findings.filter((f) => f.triage.state === "not_affected");
  const aliases = [...new Set(findings.flatMap((f) => f.advisories))].filter((a) => a !== id && !CVE.test(a));
  return {
    ...(CVE.test(id) ? { cve: id } : {}),
    ...(!CVE.test(id) || aliases.length
      ? {
          ids: [...(CVE.test(id) ? [] : [id]), ...aliases].map((text) => ({
            system_name: text.split("-")[0]!,
            text,
          })),
        }
      : {}),
    notes: [{ category: "description", text: findings[0]!.summary ?? id, title: "Description" }],
    product_status: Object.fromEntries(Object.entries(status).map(([k, v]) => [k, [...new Set(v)].sort()])),
    // CSAF 2.0 §6.1.27.9: every known_not_affected product carries a flag (the VEX justification).
    ...(notAffected.length
      ? {
          flags: [
            ...new Set(
              notAffected.map((f) =>
                f.triage.state === "not_affected" ? toOpenVexJustification(f.triage.justification) : "",
              ),
            ),
          ].map((label) => ({
            label,
            product_ids: notAffected
              .filter(
                (f) =>
                  f.triage.state === "not_affected" &&
                  toOpenVexJustification(f.triage.justification) === label,
              )
              .map(pidOf)
              .sort(),
          })),
        }
      : {}),
    // §6.1.27.10: every known_affected product has an action statement.
    ...(affected.length
      ? {
          remediations: affected.map((f) => ({
            category: "mitigation",
            details: f.triage.state === "affected" ? f.triage.actionStatement : "",
            product_ids: [pidOf(f)],
          })),
          ...(cvss && (cvss.version === "3.0" || cvss.version === "3.1")
            ? {
                scores: [
                  {
                    products: [...new Set(affected.map(pidOf))].sort(),
                    cvss_v3: {
                      version: cvss.version,
                      vectorString: cvss.vector,
                      baseScore: cvss.baseScore,
                      baseSeverity: cvss.rating.toUpperCase(),
                    },
                  },
                ],
              }
            : {}),
        }
      : {}),
  };
}

/**
 * A CSAF 2.0 VEX document (profile csaf_vex, §4.5) of one release: the release as the product,
 * each component a `default_component_of` it, one vulnerability entry per vulnerability with the
 * triage decisions as product statuses (open findings only).
 */
export function buildVex(input: VexInput): Record<string, unknown> {
  const open = input.findings.filter((f) => f.status === "open");
  const releaseId = `CSAFPID-${safe(input.version)}`;
  const components = new Map(open.map((f) => [f.component.purl, f]));
  const componentId = (purl: string) => `CSAFPID-C-${safe(purl)}`;
  const pidOf = (f: Finding) => `${releaseId}:${componentId(f.component.purl).slice("CSAFPID-".length)}`;
  const at = new Date(input.at).toISOString();
  const byVuln = new Map<string, Finding[]>();
  for (const f of open) byVuln.set(f.vulnerability, [...(byVuln.get(f.vulnerability) ?? []), f]);
  return sortKeys({
    document: {
      category: "csaf_vex",
      csaf_version: "2.0",
      distribution: { tlp: { label: "WHITE", url: "https://www.first.org/tlp/" } },
      lang: "en",
      notes: [
        {
          category: "summary",
          title: "Summary",
          text: `Exploitability of known vulnerabilities in ${input.product} ${input.version}.`,
        },
      ],
      publisher: { category: "vendor", name: input.publisher.name, namespace: input.publisher.namespace },
      references: [{ category: "self", summary: "Canonical URL", url: input.canonicalUrl }],
      title: `${input.product} ${input.version}: VEX`,
      tracking: {
        current_release_date: at,
        generator: { date: at, engine: { name: "Bulwark", version: "0.1.0" } },
        id: input.trackingId,
        initial_release_date: at,
        revision_history: [{ date: at, number: "1", summary: "Generated from the current triage" }],
        status: "final",
        version: "1",
      },
    },
    product_tree: {
      branches: [
        {
          category: "vendor",
          name: input.vendor,
          branches: [
            {
              category: "product_name",
              name: input.product,
              branches: [
                {
                  category: "product_version",
                  name: input.version,
                  product: {
                    name: `${input.product} ${input.version}`,
                    product_id: releaseId,
                    product_identification_helper: { purl: input.releasePurl },
                  },
                },
              ],
            },
          ],
        },
      ],
      full_product_names: [...components.values()].map((f) => ({
        name: `${f.component.name} ${f.component.version}`,
        product_id: componentId(f.component.purl),
        product_identification_helper: { purl: f.component.purl },
      })),
      relationships: [...components.values()].map((f) => ({
        category: "default_component_of",
        full_product_name: {
          name: `${f.component.name} ${f.component.version} in ${input.product} ${input.version}`,
          product_id: pidOf(f),
          product_identification_helper: { purl: f.component.purl },
        },
        product_reference: componentId(f.component.purl),
        relates_to_product_reference: releaseId,
      })),
    },
    vulnerabilities: [...byVuln.entries()].map(([id, fs]) =>
      vulnerability(id, fs, pidOf, input.cvss.get(id)),
    ),
  }) as Record<string, unknown>;
}
