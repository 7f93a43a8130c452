/**
 * Serialises an inventory as an SPDX 2.3 JSON document. BSI TR-03183-2 v2.1.0 §4 asks for SPDX 3.0.1:
 * SPDX 2.3 has no place for the executable / archive / structured properties or for the completeness
 * of a dependency list, so an SBOM made here fails that gate; CycloneDX 1.6 carries all of it.
 */
import { randomUUID } from "node:crypto";
import { checkCreator } from "./cyclonedx.ts";
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

function pkg(p: GeneratedPackage, id: string, options: GenerateOptions): Record<string, unknown> {
  const licence = declared(p.licenses);
  const out: Record<string, unknown> = {
    SPDXID: id,
    name: p.name,
    versionInfo: p.version,
    // SPDX 2.3 §7.5: "Organization: name" or NOASSERTION.
    supplier: p.supplier === undefined ? "NOASSERTION" : `Organization: ${p.supplier}`,
    downloadLocation: "NOASSERTION",
    filesAnalyzed: false,
    // SPDX 2.3 §7.13: the concluded licence; the declared one only when the SBOM's creator says it
    // distributes each package under the licence it declares (GenerateOptions.distributionLicences).
    licenseConcluded: options.distributionLicences === "declared" ? licence : "NOASSERTION",
    licenseDeclared: licence,
    copyrightText: "NOASSERTION",
  };
  const checksums = Object.entries(p.hashes).map(([alg, value]) => ({
    algorithm: SPDX_ALGORITHM[alg as HashAlgorithm],
    checksumValue: value,
  }));
  if (checksums.length > 0) out["checksums"] = checksums;
  // SPDX 2.3 §7.4: the file name of the package's archive.
  if (p.filename !== undefined) out["packageFileName"] = p.filename;
  // SPDX 2.3 §7.6 originator: the package's own creator, "Organization: name (email)".
  if (p.creatorContact !== undefined && !/^https?:/i.test(p.creatorContact))
    out["originator"] = `Organization: ${p.supplier ?? p.creatorContact} (${p.creatorContact})`;
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
  checkCreator(options.creator);
  const creators = ["Tool: bulwark-0.1.0"];
  const creator = options.creator;
  // SPDX 2.3 §6.8: "Organization: name (email)"; a URL has no place there and goes in the comment.
  const byUrl = creator !== undefined && /^https?:/i.test(creator.contact);
  if (creator !== undefined)
    creators.push(
      byUrl
        ? `Organization: ${creator.name ?? creator.contact}`
        : `Organization: ${creator.name ?? creator.contact} (${creator.contact})`,
    );
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
      ...(byUrl ? { comment: `SBOM creator (BSI TR-03183-2 §5.2.1): ${creator!.contact}` } : {}),
    },
    packages: [subject, ...inv.packages.map((p) => pkg(p, ids.get(p.ref)!, options))],
    relationships,
  };
}
