/**
 * Normalises an SPDX 3.0.1 JSON-LD document (the serialisation with "@context" and "@graph") into the SBOM
 * model. Only structural checks are made (no SHACL/JSON-schema validation of SPDX 3).
 */
import { SoftwareError } from "../errors.ts";
import { emptyComponent, type SbomComponent, type SbomDocument } from "./model.ts";
import { parsePurl } from "./purl.ts";

type Json = Record<string, unknown>;

function obj(v: unknown): Json | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
}
function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : v === undefined ? [] : [v];
}
function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" && v !== "NOASSERTION" ? v : undefined;
}

// SPDX 3.0.1 Software/Classes/Package and its subclasses AI/AIPackage, Dataset/DatasetPackage.
const PACKAGE_TYPES = new Set(["software_Package", "ai_AIPackage", "dataset_DatasetPackage"]);
// SPDX 3.0.1 Core/Vocabularies/RelationshipType: edges meaning "from needs to".
const DEPENDENCY_TYPES = new Set([
  "dependsOn",
  "contains",
  "hasDynamicLink",
  "hasStaticLink",
  "hasPrerequisite",
]);

const NONE_ELEMENT = /\/Core\/NoneElement$/;

/**
 * E-mail / URL identifiers of a Person or Organization (SPDX 3.0.1 Core/ExternalIdentifier of type
 * email, urlScheme or other), as BSI TR-03183-2 v2.1 §8.2 Tables 8 and 9 map a creator's contact.
 * The TR's table spells the property "externalIdentifers"; both spellings are read.
 */
function contactsOf(agent: Json | undefined): string[] {
  if (agent === undefined) return [];
  const out: string[] = [];
  for (const x of [...arr(agent["externalIdentifier"]), ...arr(agent["externalIdentifers"])].map(obj)) {
    const t = x?.["externalIdentifierType"];
    const id = str(x?.["identifier"]);
    if (id === undefined) continue;
    if (t === "email" || t === "urlScheme" || (t === "other" && /^https?:\/\//.test(id))) out.push(id);
  }
  return out;
}

function hashesOf(e: Json | undefined): SbomComponent["hashes"] {
  return arr(e?.["verifiedUsing"])
    .map(obj)
    .filter((h): h is Json => h?.["type"] === "Hash" && typeof h["hashValue"] === "string")
    .map((h) => ({
      algorithm: String(h["algorithm"]).toUpperCase(),
      value: String(h["hashValue"]).toLowerCase(),
    }));
}

export function isSpdx3(doc: Json): boolean {
  return arr(doc["@context"]).some((c) => typeof c === "string" && c.includes("spdx.org/rdf/3.0"));
}

export function normalizeSpdx3(doc: Json, source: string | undefined): SbomDocument {
  const graph = doc["@graph"];
  if (!Array.isArray(graph))
    throw new SoftwareError("BW_ERR_SBOM_INVALID", "SPDX 3 document has no @graph array", { path: source });
  const byId = new Map<string, Json>();
  graph.forEach((e, i) => {
    const o = obj(e);
    if (o === undefined || typeof o["type"] !== "string") {
      throw new SoftwareError("BW_ERR_SBOM_INVALID", "SPDX 3 element without a type", {
        path: `${source ?? ""}#/@graph/${i}`,
      });
    }
    const id = str(o["spdxId"]) ?? str(o["@id"]);
    if (id !== undefined) byId.set(id, o);
  });
  const elements = graph as Json[];
  const resolve = (v: unknown): Json | undefined =>
    obj(v) ?? (typeof v === "string" ? byId.get(v) : undefined);
  const nameOf = (v: unknown): string | undefined => str(resolve(v)?.["name"]);
  const licenceText = (v: unknown): string | undefined => {
    const e = resolve(v);
    if (e === undefined)
      return typeof v === "string" ? v.replace(/^https?:\/\/spdx\.org\/licenses\//, "") : undefined;
    return (
      str(e["simplelicensing_licenseExpression"]) ?? str(e["name"]) ?? str(e["spdxId"])?.replace(/^.*\//, "")
    );
  };

  const components: SbomComponent[] = [];
  for (const e of elements) {
    if (!PACKAGE_TYPES.has(e["type"] as string)) continue;
    const c = emptyComponent(str(e["spdxId"]) ?? `component-${components.length + 1}`, str(e["name"]) ?? "");
    c.type = str(e["software_primaryPurpose"]);
    c.version = str(e["software_packageVersion"]);
    c.supplier = nameOf(e["suppliedBy"]);
    c.author = arr(e["originatedBy"])
      .map(nameOf)
      .find((n) => n !== undefined);
    // BSI TR-03183-2 v2.1 §8.2 Table 9: originatedBy → Person/Organization with e-mail or URL.
    c.creatorContacts = arr(e["originatedBy"]).flatMap((o) => contactsOf(resolve(o)));
    c.hashes = hashesOf(e);
    c.deployableHashes = [...c.hashes];
    const purlTexts = [str(e["software_packageUrl"])];
    for (const x of arr(e["externalIdentifier"]).map(obj)) {
      const t = x?.["externalIdentifierType"];
      const id = str(x?.["identifier"]);
      if (id === undefined) continue;
      if (t === "packageUrl") purlTexts.push(id);
      else if ((t === "cpe23" || t === "cpe22") && c.cpe === undefined) c.cpe = id;
      else if (t !== "email") c.otherIds.push(`${String(t)}:${id}`);
    }
    const purl = purlTexts
      .map((p) => (p === undefined ? undefined : parsePurl(p)))
      .find((p) => p !== undefined);
    if (purl !== undefined) {
      c.purl = purl.purl;
      c.ecosystem = purl.ecosystem;
      c.packageName = purl.packageName;
      c.version ??= purl.version;
    }
    components.push(c);
  }
  const byRef = new Map(components.map((c) => [c.ref, c]));
  // The document's own SBOM (its root element) describes this document's packages, not another BOM's.
  const ownSboms = new Set(
    elements
      .filter((e) => e["type"] === "SpdxDocument")
      .flatMap((e) => arr(e["rootElement"]))
      .filter((r): r is string => typeof r === "string"),
  );
  const edges = new Map<string, Set<string>>();
  const completeness = new Map<string, SbomComponent["dependencyCompleteness"]>();
  for (const e of elements) {
    if (e["type"] !== "Relationship" && e["type"] !== "LifecycleScopedRelationship") continue;
    const from = str(e["from"]);
    const type = e["relationshipType"];
    const to = arr(e["to"]).filter((t): t is string => typeof t === "string");
    // TR-03183-2 v2.1 §3.2.5, §8.2 "References to another BOM": a software_Sbom with a buildMeta
    // externalRef that describes the package.
    const fromEl = from === undefined ? undefined : byId.get(from);
    if (type === "describes" && fromEl?.["type"] === "software_Sbom" && !ownSboms.has(from!)) {
      const locator = arr(fromEl["externalRef"])
        .map(obj)
        .filter((x) => x?.["externalRefType"] === "buildMeta")
        .flatMap((x) => arr(x?.["locator"]))
        .map(str)
        .find((l) => l !== undefined);
      if (locator !== undefined)
        for (const t of to) {
          const target = byRef.get(t);
          if (target !== undefined) target.referencedBom ??= locator;
        }
      continue;
    }
    const c = from === undefined ? undefined : byRef.get(from);
    if (c === undefined) continue;
    if (type === "hasDeclaredLicense" || type === "hasConcludedLicense") {
      for (const t of to) {
        const l = licenceText(t);
        if (l !== undefined && !c.licenses.includes(l)) c.licenses.push(l);
        // BSI TR-03183-2 v2.1 §8.2 Table 9: distribution licences are the concluded ones.
        if (l !== undefined && type === "hasConcludedLicense" && !c.distributionLicenses.includes(l))
          c.distributionLicenses.push(l);
      }
    } else if (type === "hasDistributionArtifact") {
      // §8.2 Table 9: the deployable file: its name, SHA-512 and purposes (executable, archive,
      // container = structured, firmware = unstructured).
      for (const t of to) {
        const file = resolve(t);
        if (file?.["type"] !== "software_File") continue;
        c.filename ??= str(file["name"]);
        c.deployableHashes.push(...hashesOf(file));
        const purposes = [file["software_primaryPurpose"], ...arr(file["software_additionalPurpose"])];
        c.bsiProperties = {
          executable: purposes.includes("executable") ? "executable" : "non-executable",
          archive: purposes.includes("archive") ? "archive" : "no archive",
          structured: purposes.includes("container")
            ? "structured"
            : purposes.includes("firmware")
              ? "unstructured"
              : undefined,
        };
      }
    } else if (typeof type === "string" && DEPENDENCY_TYPES.has(type)) {
      if (!edges.has(c.ref)) edges.set(c.ref, new Set());
      for (const t of to) if (byRef.has(t)) edges.get(c.ref)!.add(t);
      // SPDX 3.0.1 Core/Relationship.completeness (§8.2 Table 9: contains / dependsOn).
      if (type === "contains" || type === "dependsOn") {
        const level =
          e["completeness"] === "complete"
            ? "complete"
            : e["completeness"] === "incomplete"
              ? "incomplete"
              : e["completeness"] === "noAssertion"
                ? "unknown"
                : to.length > 0 && to.every((t) => NONE_ELEMENT.test(t))
                  ? "complete"
                  : undefined;
        const known = completeness.get(c.ref);
        if (level !== undefined && (known === undefined || known === "complete"))
          completeness.set(c.ref, level);
      }
    }
  }
  for (const c of components) c.dependencyCompleteness = completeness.get(c.ref);
  // SPDX 3.0.1 Security profile: vulnerabilities and VEX assessments (TR-03183-2 v2.1 §3.1 forbids them in an SBOM).
  const vulnerable = elements
    .map((e, i) => ({ e, i }))
    .filter(({ e }) => typeof e["type"] === "string" && (e["type"] as string).startsWith("security_"));
  const spdxDoc = elements.find((e) => e["type"] === "SpdxDocument");
  const creation =
    resolve(spdxDoc?.["creationInfo"]) ?? resolve(elements.find((e) => e["type"] === "CreationInfo"));
  const roots = arr(spdxDoc?.["rootElement"]).flatMap((r) => {
    const el = resolve(r);
    return el?.["type"] === "software_Sbom" ? arr(el["rootElement"]) : [r];
  });
  return {
    format: "spdx",
    specVersion: str(creation?.["specVersion"]) ?? "3.0.1",
    id: str(spdxDoc?.["spdxId"]),
    name: str(spdxDoc?.["name"]),
    timestamp: str(creation?.["created"]),
    authors: arr(creation?.["createdBy"])
      .map(nameOf)
      .filter((n): n is string => n !== undefined),
    tools: arr(creation?.["createdUsing"])
      .map(nameOf)
      .filter((n): n is string => n !== undefined),
    subjectRef: roots.find((r): r is string => typeof r === "string" && byRef.has(r)),
    components,
    dependencies: [...edges].map(([ref, to]) => ({ ref, dependsOn: [...to] })),
    // §8.2 Table 8: CreationInfo.createdBy → Person/Organization with e-mail or URL.
    creatorContacts: [...new Set(arr(creation?.["createdBy"]).flatMap((a) => contactsOf(resolve(a))))],
    vulnerabilityInfo: {
      count: vulnerable.length,
      where: vulnerable.slice(0, 3).map(({ e, i }) => `/@graph/${i} (${String(e["type"])})`),
    },
  };
}
