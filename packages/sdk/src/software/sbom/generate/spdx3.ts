/**
 * Serialises an inventory as an SPDX 3.0.1 JSON-LD document (SPDX 3.0.1 "Serializations": one
 * "@context" and a flat "@graph"), carrying the BSI TR-03183-2 v2.1.0 fields the input knows as its
 * §8.2 Tables 8 and 9 map them to SPDX 3.0.1. A field the input does not know is left out and named
 * in the package's `comment` ("BSI TR-03183-2 unknown: ...").
 */
import { randomUUID } from "node:crypto";
import { checkCreator } from "./cyclonedx.ts";
import { classifyLicense } from "./licenses.ts";
import {
  type GeneratedPackage,
  type GenerateOptions,
  type HashAlgorithm,
  type Inventory,
  subjectUnknownFields,
  unknownFields,
} from "./model.ts";

type Json = Record<string, unknown>;

const CONTEXT = "https://spdx.org/rdf/3.0.1/spdx-context.jsonld";
// SPDX 3.0.1 Core/Individuals/NoneElement: the "to" of a relationship stating there is none.
const NONE = "https://spdx.org/rdf/3.0.1/terms/Core/NoneElement";
const CREATION = "_:creationinfo";
// SPDX 3.0.1 Core/Vocabularies/HashAlgorithm.
const ALGORITHM: Record<HashAlgorithm, string> = {
  "SHA-1": "sha1",
  "SHA-256": "sha256",
  "SHA-384": "sha384",
  "SHA-512": "sha512",
};
// SPDX 3.0.1 Core/Vocabularies/RelationshipCompleteness.
const COMPLETENESS = { complete: "complete", incomplete: "incomplete", unknown: "noAssertion" } as const;

/** TR §8.2 Tables 8 / 9: an agent's e-mail (type email) or URL (urlScheme for the SBOM's creator, other for a component's). */
function contactIdentifier(contact: string, urlType: "urlScheme" | "other"): Json {
  const url = /^https?:/i.test(contact);
  return {
    type: "ExternalIdentifier",
    externalIdentifierType: url ? urlType : "email",
    identifier: contact,
  };
}

function hashes(h: GeneratedPackage["hashes"]): Json[] {
  return Object.entries(h).map(([alg, value]) => ({
    type: "Hash",
    algorithm: ALGORITHM[alg as HashAlgorithm],
    hashValue: value,
  }));
}

/** SPDX 3.0.1 requires a creator (CreationInfo.createdBy, minCount 1); TR §5.2.1 its e-mail or URL. */
export function toSpdx3(inv: Inventory, options: GenerateOptions): Json {
  const creator = options.creator;
  if (creator === undefined) throw new RangeError("an SPDX 3 document needs its creator (createdBy)");
  checkCreator(creator);
  const base = `https://spdx.org/spdxdocs/bulwark/${encodeURIComponent(inv.subject.name)}-${options.uuid ?? randomUUID()}#`;
  const graph: Json[] = [];
  const element = (e: Json): string => {
    graph.push({ ...e, creationInfo: CREATION });
    return e["spdxId"] as string;
  };
  const relate = (
    from: string,
    type: string,
    to: string[],
    completeness?: keyof typeof COMPLETENESS,
    scope?: string,
  ): void => {
    element({
      type: scope === undefined ? "Relationship" : "LifecycleScopedRelationship",
      spdxId: `${base}Relationship-${graph.length}`,
      from,
      relationshipType: type,
      to,
      ...(completeness === undefined ? {} : { completeness: COMPLETENESS[completeness] }),
      ...(scope === undefined ? {} : { scope }),
    });
  };

  const creatorId = element({
    type: "Organization",
    spdxId: `${base}Creator`,
    name: creator.name ?? creator.contact,
    externalIdentifier: [contactIdentifier(creator.contact, "urlScheme")],
  });
  const toolId = element({ type: "Tool", spdxId: `${base}Tool-bulwark`, name: "bulwark-0.1.0" });
  const agents = new Map<string, string>();
  const agent = (name: string, contact: string | undefined): string => {
    const key = `${name}\u0000${contact ?? ""}`;
    let id = agents.get(key);
    if (id === undefined) {
      id = element({
        type: "Organization",
        spdxId: `${base}Organization-${agents.size + 1}`,
        name,
        ...(contact === undefined ? {} : { externalIdentifier: [contactIdentifier(contact, "other")] }),
      });
      agents.set(key, id);
    }
    return id;
  };
  const licences = new Map<string, string>();
  const licence = (expression: string): string => {
    let id = licences.get(expression);
    if (id === undefined) {
      id = element({
        type: "simplelicensing_LicenseExpression",
        spdxId: `${base}License-${licences.size + 1}`,
        simplelicensing_licenseExpression: expression,
      });
      licences.set(expression, id);
    }
    return id;
  };

  const ids = new Map(inv.packages.map((p, i) => [p.ref, `${base}Package-${i + 1}`]));
  const subjectId = `${base}Subject`;
  const subjectUnknown = subjectUnknownFields(inv.subject);
  element({
    type: "software_Package",
    spdxId: subjectId,
    name: inv.subject.name,
    software_primaryPurpose: "application",
    ...(inv.subject.version === undefined ? {} : { software_packageVersion: inv.subject.version }),
    ...(inv.subject.purl === undefined ? {} : { software_packageUrl: inv.subject.purl }),
    ...(inv.subject.supplier === undefined ? {} : { suppliedBy: agent(inv.subject.supplier, undefined) }),
    ...(inv.subject.creatorContact === undefined
      ? {}
      : {
          originatedBy: [
            agent(inv.subject.supplier ?? inv.subject.creatorContact, inv.subject.creatorContact),
          ],
        }),
    // The product as a logical component (TR §3.2.2): no file of its own here.
    comment: `BSI TR-03183-2 unknown: ${subjectUnknown.join("; ")}`,
  });

  const development = new Set(inv.packages.filter((p) => p.development).map((p) => p.ref));
  // TR §8.2 Table 9: dependsOn with its completeness; a package with none points at NoneElement.
  // Development-only packages hang off a lifecycle-scoped relationship (SPDX 3.0.1 LifecycleScopeType).
  const dependencies = (from: string, refs: string[], completeness: keyof typeof COMPLETENESS): void => {
    const to = [...new Set(refs)].filter((r) => ids.has(r));
    const runtime = to.filter((r) => !development.has(r)).map((r) => ids.get(r)!);
    const dev = to.filter((r) => development.has(r)).map((r) => ids.get(r)!);
    if (runtime.length > 0 || dev.length === 0)
      relate(from, "dependsOn", runtime.length > 0 ? runtime : [NONE], completeness);
    if (dev.length > 0) relate(from, "dependsOn", dev, completeness, "development");
  };
  dependencies(subjectId, inv.direct ?? inv.packages.map((p) => p.ref), inv.directCompleteness ?? "unknown");

  for (const p of inv.packages) {
    const id = ids.get(p.ref)!;
    const distributed =
      options.distributionLicences === "declared" && p.licenses.some((l) => classifyLicense(l) !== "name");
    const unknown = unknownFields(p, distributed);
    // Without a file name there is no distribution artifact to hang the file's facts on.
    if (p.filename === undefined && p.fileKind !== undefined)
      unknown.push("executable/archive/structured properties");
    element({
      type: "software_Package",
      spdxId: id,
      name: p.name,
      software_packageVersion: p.version,
      ...(p.purl === undefined ? {} : { software_packageUrl: p.purl }),
      ...(p.supplier === undefined ? {} : { suppliedBy: agent(p.supplier, undefined) }),
      // TR §8.2 Table 9: component creator = originatedBy → agent with an e-mail / URL identifier.
      ...(p.creatorContact === undefined
        ? {}
        : { originatedBy: [agent(p.supplier ?? p.creatorContact, p.creatorContact)] }),
      // The package's hashes are those of the file it is distributed as (npm integrity: the tarball).
      ...(p.filename === undefined && Object.keys(p.hashes).length > 0
        ? { verifiedUsing: hashes(p.hashes) }
        : {}),
      ...(unknown.length === 0 ? {} : { comment: `BSI TR-03183-2 unknown: ${unknown.join("; ")}` }),
    });
    if (p.filename !== undefined) {
      // TR §8.2 Table 9: filename, SHA-512 and the executable / archive / structured properties sit on
      // the distribution file (software_additionalPurpose executable, archive, container / firmware).
      const purposes =
        p.fileKind === undefined
          ? []
          : [
              ...(p.fileKind.executable === "executable" ? ["executable"] : []),
              ...(p.fileKind.archive === "archive" ? ["archive"] : []),
              p.fileKind.structured === "structured" ? "container" : "firmware",
            ];
      const file = element({
        type: "software_File",
        spdxId: `${id}-File`,
        name: p.filename,
        ...(Object.keys(p.hashes).length > 0 ? { verifiedUsing: hashes(p.hashes) } : {}),
        ...(purposes.length > 0 ? { software_additionalPurpose: purposes } : {}),
      });
      relate(id, "hasDistributionArtifact", [file], "complete");
    }
    // TR §8.2: original licences → hasDeclaredLicense, distribution licences → hasConcludedLicense.
    const spdxLicences = p.licenses.filter((l) => classifyLicense(l) !== "name");
    if (spdxLicences.length > 0) {
      const expression =
        spdxLicences.length === 1 ? spdxLicences[0]! : spdxLicences.map((l) => `(${l})`).join(" AND ");
      relate(id, "hasDeclaredLicense", [licence(expression)]);
      if (distributed) relate(id, "hasConcludedLicense", [licence(expression)], "complete");
    }
    dependencies(id, p.dependsOn, p.dependencyCompleteness);
  }

  const sbomId = element({
    type: "software_Sbom",
    spdxId: `${base}Sbom`,
    rootElement: [subjectId],
    element: graph.map((e) => e["spdxId"] as string),
  });
  element({
    type: "SpdxDocument",
    spdxId: `${base}Document`,
    name: `${inv.subject.name}${inv.subject.version === undefined ? "" : `-${inv.subject.version}`}`,
    profileConformance: ["core", "software", "simpleLicensing"],
    rootElement: [sbomId],
    element: graph.map((e) => e["spdxId"] as string).filter((i) => i !== `${base}Document`),
  });
  return {
    "@context": CONTEXT,
    "@graph": [
      {
        type: "CreationInfo",
        "@id": CREATION,
        specVersion: "3.0.1",
        // TR §5.2.1 timestamp (SPDX 3.0.1 DateTime: UTC, no fractions of a second).
        created: (options.timestamp ?? new Date().toISOString()).replace(/\.\d+Z$/, "Z"),
        createdBy: [creatorId],
        createdUsing: [toolId],
      },
      ...graph,
    ],
  };
}
