import { randomUUID } from "node:crypto";
import type { Release } from "../products/products.ts";
import type { Finding } from "./findings.ts";
import { type Triage, toCycloneDxJustification, toOpenVexJustification } from "./triage.ts";

/** The product release as a purl: the VEX "product" every statement is about. */
export function releasePurl(release: Release): string {
  return `pkg:generic/${encodeURIComponent(release.productName)}@${encodeURIComponent(release.version)}`;
}

const aliasesOf = (f: Finding) => f.advisories.filter((a) => a !== f.vulnerability);

// OpenVEX v0.2.0 §Statement fields per status.
interface OpenVexStatus {
  status: Triage["state"];
  justification?: string;
  impact_statement?: string;
  action_statement?: string;
}

function openVexStatus(t: Triage): OpenVexStatus {
  switch (t.state) {
    case "under_investigation":
      return { status: "under_investigation" };
    case "affected":
      return { status: "affected", action_statement: t.actionStatement };
    case "not_affected":
      return {
        status: "not_affected",
        justification: toOpenVexJustification(t.justification),
        ...(t.impactStatement ? { impact_statement: t.impactStatement } : {}),
      };
    case "fixed":
      return { status: "fixed" };
    default: {
      const never: never = t;
      throw new Error(`unreachable triage ${String(never)}`);
    }
  }
}

/** An OpenVEX v0.2.0 document with one statement per open finding of the release. */
export function openVexDocument(
  release: Release,
  findings: readonly Finding[],
  author: string,
  now = new Date(),
) {
  const product = releasePurl(release);
  return {
    // OpenVEX v0.2.0 §Document: @context, @id, author, timestamp, version, statements.
    "@context": "https://openvex.dev/ns/v0.2.0",
    "@id": `urn:uuid:${randomUUID()}`,
    author,
    timestamp: now.toISOString(),
    version: 1,
    tooling: "Bulwark",
    statements: findings
      .filter((f) => f.status === "open")
      .map((f) => ({
        vulnerability: { name: f.vulnerability, ...(aliasesOf(f).length ? { aliases: aliasesOf(f) } : {}) },
        products: [{ "@id": product, subcomponents: [{ "@id": f.component.purl }] }],
        ...openVexStatus(f.triage),
        ...(f.triage.detail ? { status_notes: f.triage.detail } : {}),
        timestamp: new Date(f.triagedAt ?? f.createdAt).toISOString(),
      })),
  };
}

// CycloneDX 1.6 §vulnerabilities[].analysis: state, justification, response, detail.
function cycloneDxAnalysis(t: Triage): Record<string, unknown> {
  const detail = t.detail ? { detail: t.detail } : {};
  switch (t.state) {
    case "under_investigation":
      return { state: "in_triage", ...detail };
    case "affected":
      return { state: "exploitable", detail: [t.actionStatement, t.detail].filter(Boolean).join("\n") };
    case "not_affected":
      return {
        state: "not_affected",
        justification: toCycloneDxJustification(t.justification),
        ...(t.impactStatement || t.detail
          ? { detail: [t.impactStatement, t.detail].filter(Boolean).join("\n") }
          : {}),
      };
    case "fixed":
      return { state: "resolved", ...detail };
    default: {
      const never: never = t;
      throw new Error(`unreachable triage ${String(never)}`);
    }
  }
}

const CDX_SEVERITY = new Set(["critical", "high", "medium", "low", "none", "unknown"]);

/** A CycloneDX 1.6 VEX BOM: the release as metadata.component, one vulnerability per open finding. */
export function cycloneDxVex(release: Release, findings: readonly Finding[], now = new Date()) {
  const open = findings.filter((f) => f.status === "open");
  const purls = [...new Set(open.map((f) => f.component.purl))].sort();
  const byPurl = new Map(open.map((f) => [f.component.purl, f.component]));
  const product = releasePurl(release);
  return {
    bomFormat: "CycloneDX",
    specVersion: "1.6",
    serialNumber: `urn:uuid:${randomUUID()}`,
    version: 1,
    metadata: {
      timestamp: now.toISOString(),
      tools: { components: [{ type: "application", name: "bulwark" }] },
      component: {
        type: "application",
        "bom-ref": product,
        name: release.productName,
        version: release.version,
        purl: product,
      },
    },
    components: purls.map((purl) => ({
      type: "library",
      "bom-ref": purl,
      name: byPurl.get(purl)!.name,
      version: byPurl.get(purl)!.version,
      purl,
    })),
    vulnerabilities: open.map((f) => ({
      "bom-ref": `${f.vulnerability}|${f.component.purl}`,
      id: f.vulnerability,
      ...(f.severity !== "unknown" || f.score !== null
        ? {
            ratings: [
              {
                ...(f.score !== null ? { score: f.score } : {}),
                severity: CDX_SEVERITY.has(f.severity) ? f.severity : "unknown",
              },
            ],
          }
        : {}),
      ...(aliasesOf(f).length
        ? { references: aliasesOf(f).map((id) => ({ id, source: { name: "OSV" } })) }
        : {}),
      ...(f.summary ? { description: f.summary } : {}),
      analysis: cycloneDxAnalysis(f.triage),
      affects: [{ ref: f.component.purl }],
    })),
  };
}
