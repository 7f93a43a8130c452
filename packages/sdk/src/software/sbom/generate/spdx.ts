/** Serialises an inventory as an SPDX 2.3 JSON document. */
import { randomUUID } from "node:crypto";
import { classifyLicense } from "./licenses.ts";
import type { GeneratedPackage, GenerateOptions, HashAlgorithm, Inventory } from "./model.ts";

// SPDX 2.3 §7.10: checksum algorithm names.
const SPDX_ALGORITHM: Record<HashAlgorithm, string> = {
  "SHA-1": "SHA1",
  "SHA-256": "SHA256",
  "SHA-384": "SHA384",
  "SHA-512": "SHA512",
};

// SPDX 2.3 §3.2 / §7.2: SPDXID is "SPDXRef-" followed by letters, digits, "." and "-".
function spdxId(index: number, name: string): string {
  return `SPDXRef-Package-${index}-${name.replace(/[^A-Za-z0-9.-]/g, "-")}`;
}

// SPDX 2.3 §7.15: the declared licence must be an SPDX expression, else NOASSERTION.
function declared(licenses: string[]): string {
  const usable = licenses.filter((l) => classifyLicense(l) !== "name");
  if (usable.length === 0) return "NOASSERTION";
  return usable.length === 1 ? usable[0]! : usable.map((l) => `(${l})`).join(" AND ");
}

function pkg(p: GeneratedPackage, id: string): Record<string, unknown> {
  const out: Record<string, unknown> = {
    SPDXID: id,
    name: p.name,
    versionInfo: p.version,
    // SPDX 2.3 §7.5: "Organization: name" or NOASSERTION.
    supplier: p.supplier === undefined ? "NOASSERTION" : `Organization: ${p.supplier}`,
    downloadLocation: "NOASSERTION",
    filesAnalyzed: false,
    licenseConcluded: "NOASSERTION",
    licenseDeclared: declared(p.licenses),
    copyrightText: "NOASSERTION",
  };
  const checksums = Object.entries(p.hashes).map(([alg, value]) => ({
    algorithm: SPDX_ALGORITHM[alg as HashAlgorithm],
    checksumValue: value,
  }));
  if (checksums.length > 0) out["checksums"] = checksums;
  // SPDX 2.3 Annex F: purl as a PACKAGE-MANAGER external reference.
  if (p.purl !== undefined)
    out["externalRefs"] = [
      { referenceCategory: "PACKAGE-MANAGER", referenceType: "purl", referenceLocator: p.purl },
    ];
  return out;
}

export function toSpdx(inv: Inventory, options: GenerateOptions = {}): Record<string, unknown> {
  const uuid = options.uuid ?? randomUUID();
  const ids = new Map(inv.packages.map((p, i) => [p.ref, spdxId(i + 1, p.name)]));
  const subjectId = "SPDXRef-Subject";
  const subject: Record<string, unknown> = {
    SPDXID: subjectId,
    name: inv.subject.name,
    supplier: inv.subject.supplier === undefined ? "NOASSERTION" : `Organization: ${inv.subject.supplier}`,
    downloadLocation: "NOASSERTION",
    filesAnalyzed: false,
    primaryPackagePurpose: "APPLICATION",
  };
  if (inv.subject.version !== undefined) subject["versionInfo"] = inv.subject.version;
  const relationships: Record<string, string>[] = [
    { spdxElementId: "SPDXRef-DOCUMENT", relationshipType: "DESCRIBES", relatedSpdxElement: subjectId },
  ];
  for (const ref of new Set(inv.direct ?? inv.packages.map((p) => p.ref))) {
    const to = ids.get(ref);
    if (to !== undefined)
      relationships.push({
        spdxElementId: subjectId,
        relationshipType: "DEPENDS_ON",
        relatedSpdxElement: to,
      });
  }
  for (const p of inv.packages) {
    for (const d of new Set(p.dependsOn)) {
      const to = ids.get(d);
      if (to !== undefined)
        relationships.push({
          spdxElementId: ids.get(p.ref)!,
          relationshipType: "DEPENDS_ON",
          relatedSpdxElement: to,
        });
    }
  }
  const creators = ["Tool: bulwark-0.1.0"];
  if (options.author !== undefined) creators.push(`Organization: ${options.author}`);
  return {
    spdxVersion: "SPDX-2.3",
    dataLicense: "CC0-1.0",
    SPDXID: "SPDXRef-DOCUMENT",
    name: `${inv.subject.name}${inv.subject.version === undefined ? "" : `-${inv.subject.version}`}`,
    // SPDX 2.3 §6.5: a unique URI for this document.
    documentNamespace: `https://spdx.org/spdxdocs/bulwark/${encodeURIComponent(inv.subject.name)}-${uuid}`,
    creationInfo: {
      created: (options.timestamp ?? new Date().toISOString()).replace(/\.\d+Z$/, "Z"),
      creators,
    },
    packages: [subject, ...inv.packages.map((p) => pkg(p, ids.get(p.ref)!))],
    relationships,
  };
}
