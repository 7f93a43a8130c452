/** Normalises a schema-valid SPDX 2.2/2.3 JSON document into the SBOM model. */
import { emptyComponent, type SbomComponent, type SbomDocument } from "./model.ts";
import { parsePurl } from "./purl.ts";

type Json = Record<string, unknown>;

function obj(v: unknown): Json | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
}

function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

// SPDX 2.3 §3.5/§3.8: NOASSERTION and NONE carry no information.
function value(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" && v !== "NOASSERTION" && v !== "NONE" ? v : undefined;
}

// SPDX 2.3 §3.5 "Person: name (email)" / "Organization: name (email)".
function party(v: unknown): string | undefined {
  const s = value(v);
  return s?.replace(/^(Person|Organization|Tool):\s*/, "");
}

const EMAIL = /[^\s@<>()]+@[^\s@<>()]+\.[^\s@<>()]+/;

// SPDX 2.3 §6.8 / §7.6: "Person: name (email)" or "Organization: name (email)": the e-mail, if any.
function emailOf(v: unknown): string | undefined {
  return value(v)
    ?.match(/\(([^()]*)\)\s*$/)?.[1]
    ?.match(EMAIL)?.[0];
}

function checksums(v: unknown): SbomComponent["hashes"] {
  return arr(v)
    .map(obj)
    .filter(
      (h): h is Json =>
        h !== undefined && typeof h["algorithm"] === "string" && typeof h["checksumValue"] === "string",
    )
    .map((h) => ({
      algorithm: (h["algorithm"] as string).toUpperCase(),
      value: (h["checksumValue"] as string).toLowerCase(),
    }));
}

function component(p: Json): SbomComponent {
  const c = emptyComponent(String(p["SPDXID"]), value(p["name"]) ?? "");
  c.type = value(p["primaryPackagePurpose"])?.toLowerCase();
  c.version = value(p["versionInfo"]);
  // SPDX 2.3 §7.5 supplier, §7.6 originator.
  c.supplier = party(p["supplier"]);
  c.author = party(p["originator"]);
  // SPDX 2.3 §7.10 checksums: of the package file (§7.4), i.e. the deployable.
  c.hashes = checksums(p["checksums"]);
  c.deployableHashes = c.hashes;
  // BSI TR-03183-2 v2.1 maps no SPDX 2 field (§4 asks for SPDX 3.0.1); the nearest are read:
  // creator = the originator's e-mail (§7.6), else the project's home page (§7.11), which §5.2.2
  // accepts when no e-mail is known; filename = packageFileName (§7.4); distribution licence =
  // licenseConcluded (§7.13).
  const originatorEmail = emailOf(p["originator"]);
  const homepage = value(p["homepage"]);
  c.creatorContacts =
    originatorEmail !== undefined ? [originatorEmail] : homepage !== undefined ? [homepage] : [];
  c.filename = value(p["packageFileName"]);
  const concluded = value(p["licenseConcluded"]);
  c.distributionLicenses = concluded === undefined ? [] : [concluded];
  // SPDX 2.3 §7.13 concluded, §7.15 declared licence.
  c.licenses = [value(p["licenseConcluded"]), value(p["licenseDeclared"])].filter(
    (l): l is string => l !== undefined,
  );
  c.licenses = [...new Set(c.licenses)];
  // SPDX 2.3 §7.21 external references: PACKAGE-MANAGER purl, SECURITY cpe22Type/cpe23Type.
  for (const r of arr(p["externalRefs"]).map(obj)) {
    const type = r?.["referenceType"];
    const locator = value(r?.["referenceLocator"]);
    if (locator === undefined) continue;
    if (type === "purl" && c.purl === undefined) {
      const purl = parsePurl(locator);
      if (purl === undefined) c.otherIds.push(`invalid-purl:${locator}`);
      else {
        c.purl = purl.purl;
        c.ecosystem = purl.ecosystem;
        c.packageName = purl.packageName;
        c.version ??= purl.version;
      }
    } else if ((type === "cpe23Type" || type === "cpe22Type") && c.cpe === undefined) c.cpe = locator;
    else c.otherIds.push(`${String(type)}:${locator}`);
  }
  return c;
}

// SPDX 2.3 §11 relationship types that express "A needs B" (forward) or "B needs A" (reverse).
const FORWARD = new Set(["DEPENDS_ON", "CONTAINS", "STATIC_LINK", "DYNAMIC_LINK", "HAS_PREREQUISITE"]);
const REVERSE = new Set([
  "DEPENDENCY_OF",
  "CONTAINED_BY",
  "BUILD_DEPENDENCY_OF",
  "DEV_DEPENDENCY_OF",
  "OPTIONAL_DEPENDENCY_OF",
  "PROVIDED_DEPENDENCY_OF",
  "TEST_DEPENDENCY_OF",
  "RUNTIME_DEPENDENCY_OF",
  "PREREQUISITE_FOR",
]);

/**
 * SPDX 2.3 Annex F: SECURITY external references of type "advisory" and "fix" point at
 * vulnerability information, which an SBOM must not carry (BSI TR-03183-2 v2.1 §3.1).
 */
function vulnerabilityRefs(doc: Json): SbomDocument["vulnerabilityInfo"] {
  const where: string[] = [];
  arr(doc["packages"]).forEach((p, i) => {
    arr(obj(p)?.["externalRefs"]).forEach((r, j) => {
      const o = obj(r);
      if (
        o?.["referenceCategory"] === "SECURITY" &&
        (o["referenceType"] === "advisory" || o["referenceType"] === "fix")
      )
        where.push(`/packages/${i}/externalRefs/${j} (${String(o["referenceType"])})`);
    });
  });
  return { count: where.length, where: where.slice(0, 3) };
}

export function normalizeSpdx(doc: Json): SbomDocument {
  const creation = obj(doc["creationInfo"]);
  const creators = arr(creation?.["creators"]).filter((c): c is string => typeof c === "string");
  const components = arr(doc["packages"])
    .map(obj)
    .filter((p): p is Json => p !== undefined)
    .map(component);
  const known = new Set(components.map((c) => c.ref));
  const edges = new Map<string, Set<string>>();
  const marks = new Map<string, SbomComponent["dependencyCompleteness"]>();
  const describes = arr(doc["documentDescribes"]).filter((d): d is string => typeof d === "string");
  for (const r of arr(doc["relationships"]).map(obj)) {
    const from = r?.["spdxElementId"];
    const type = r?.["relationshipType"];
    const to = r?.["relatedSpdxElement"];
    if (typeof from !== "string" || typeof to !== "string" || typeof type !== "string") continue;
    if (type === "DESCRIBES" && from === doc["SPDXID"]) describes.push(to);
    if (type === "DESCRIBED_BY" && to === doc["SPDXID"]) describes.push(from);
    // SPDX 2.3 §11.1: a relationship to NONE says there is none (a declared leaf, complete); to
    // NOASSERTION that it is not known.
    if (
      (type === "DEPENDS_ON" || type === "CONTAINS") &&
      known.has(from) &&
      (to === "NONE" || to === "NOASSERTION")
    ) {
      if (!edges.has(from)) edges.set(from, new Set());
      marks.set(from, to === "NONE" ? "complete" : "unknown");
      continue;
    }
    const [a, b] = FORWARD.has(type) ? [from, to] : REVERSE.has(type) ? [to, from] : [undefined, undefined];
    if (a === undefined || b === undefined || !known.has(a) || !known.has(b)) continue;
    if (!edges.has(a)) edges.set(a, new Set());
    edges.get(a)!.add(b);
  }
  const subjectRef = describes.find((d) => known.has(d));
  // A NONE leaf with edges too is contradictory: no claim.
  for (const c of components) {
    const mark = marks.get(c.ref);
    c.dependencyCompleteness = mark === "complete" && (edges.get(c.ref)?.size ?? 0) > 0 ? undefined : mark;
  }
  const creatorContacts = creators
    .filter((c) => !c.startsWith("Tool:"))
    .map(emailOf)
    .filter((e): e is string => e !== undefined);
  return {
    format: "spdx",
    specVersion: String(doc["spdxVersion"]).replace(/^SPDX-/, ""),
    id: value(doc["documentNamespace"]),
    name: value(doc["name"]),
    timestamp: value(creation?.["created"]),
    authors: creators.filter((c) => !c.startsWith("Tool:")).map((c) => party(c)!),
    tools: creators.filter((c) => c.startsWith("Tool:")).map((c) => party(c)!),
    subjectRef,
    components,
    dependencies: [...edges].map(([ref, to]) => ({ ref, dependsOn: [...to] })),
    creatorContacts,
    vulnerabilityInfo: vulnerabilityRefs(doc),
  };
}
