/** Normalises a schema-valid CycloneDX 1.2-1.6 JSON document into the SBOM model. */
import {
  emptyComponent,
  type SbomComponent,
  type SbomDependency,
  type SbomDocument,
  type SbomHash,
} from "./model.ts";
import { parsePurl } from "./purl.ts";

type Json = Record<string, unknown>;

function obj(v: unknown): Json | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
}

function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

function contactName(v: unknown): string | undefined {
  const o = obj(v);
  if (o === undefined) return undefined;
  return (
    str(o["name"]) ??
    str(o["email"]) ??
    arr(o["url"])
      .map(str)
      .find((u) => u !== undefined)
  );
}

// CycloneDX 1.6 §metadata.tools: an array of tools (1.2-1.4, deprecated later) or {components, services}.
function toolNames(tools: unknown): string[] {
  const list = Array.isArray(tools)
    ? tools
    : [...arr(obj(tools)?.["components"]), ...arr(obj(tools)?.["services"])];
  return list
    .map((t) => {
      const o = obj(t);
      if (o === undefined) return undefined;
      const name = str(o["name"]);
      if (name === undefined) return undefined;
      const vendor = str(o["vendor"]) ?? contactName(o["manufacturer"]) ?? str(o["group"]);
      const version = str(o["version"]);
      return `${vendor === undefined ? "" : `${vendor} `}${name}${version === undefined ? "" : ` ${version}`}`;
    })
    .filter((t): t is string => t !== undefined);
}

const EMAIL = /^[^\s@<>()]+@[^\s@<>()]+\.[^\s@<>()]+$/;
const EMAIL_IN_TEXT = /[^\s@<>()]+@[^\s@<>()]+\.[^\s@<>()]+/;

/**
 * E-mail addresses and URLs of an organizationalEntity (CycloneDX §organizationalEntity: url[],
 * contact[].email) or an organizationalContact (§organizationalContact: email), as BSI TR-03183-2
 * v2.1 §8.2 Tables 8 and 9 map the creator ("manufacturer" url XOR contact email).
 */
function contactsOf(v: unknown): string[] {
  const o = obj(v);
  if (o === undefined) return [];
  const out: string[] = [];
  const email = str(o["email"]);
  if (email !== undefined && EMAIL.test(email)) out.push(email);
  for (const u of arr(o["url"])) {
    const url = str(u);
    if (url !== undefined) out.push(url);
  }
  for (const c of arr(o["contact"])) out.push(...contactsOf(c));
  return out;
}

/** CycloneDX §properties: the value of the first property of that name. */
function property(raw: Json, name: string): string | undefined {
  for (const p of arr(raw["properties"])) {
    const o = obj(p);
    if (o?.["name"] === name) return str(o["value"]);
  }
  return undefined;
}

// CycloneDX §licenseChoice: [{license: {id | name}}] or [{expression}].
function licenses(v: unknown): string[] {
  const out: string[] = [];
  for (const l of arr(v)) {
    const o = obj(l);
    const expr = str(o?.["expression"]);
    if (expr !== undefined) out.push(expr);
    const lic = obj(o?.["license"]);
    const id = str(lic?.["id"]) ?? str(lic?.["name"]);
    if (id !== undefined) out.push(id);
  }
  return out;
}

/**
 * Distribution licences (BSI TR-03183-2 v2.1 §5.2.2, mapped in §8.2 Table 9 to CycloneDX 1.6
 * licences with `acknowledgement: "concluded"`): every licence not acknowledged as "declared" (an
 * original licence, §5.2.4); before 1.6 there is no acknowledgement, and a licence is taken as the
 * one offered. A licence given only by name is kept with a "name:" prefix (not an identifier, §6.1).
 */
function distributionLicenses(v: unknown): string[] {
  const out: string[] = [];
  for (const l of arr(v)) {
    const o = obj(l);
    if (o === undefined) continue;
    const lic = obj(o["license"]);
    if (str(o["acknowledgement"] ?? lic?.["acknowledgement"]) === "declared") continue;
    const expr = str(o["expression"]) ?? str(lic?.["id"]);
    const name = str(lic?.["name"]);
    if (expr !== undefined) out.push(expr);
    else if (name !== undefined) out.push(`name:${name}`);
  }
  return out;
}

function hashes(v: unknown): SbomHash[] {
  return arr(v)
    .map((h) => obj(h))
    .filter(
      (h): h is Json => h !== undefined && typeof h["alg"] === "string" && typeof h["content"] === "string",
    )
    .map((h) => ({
      algorithm: (h["alg"] as string).toUpperCase(),
      value: (h["content"] as string).toLowerCase(),
    }));
}

class Collector {
  readonly components: SbomComponent[] = [];
  private n = 0;

  add(raw: Json, parentRef: string | undefined): string {
    this.n++;
    const ref = str(raw["bom-ref"]) ?? `component-${this.n}`;
    const c = emptyComponent(ref, str(raw["name"]) ?? "");
    c.parentRef = parentRef;
    c.type = str(raw["type"]);
    c.version = str(raw["version"]);
    // CycloneDX §component.supplier (organizationalEntity); §component.author (string); 1.6 §component.authors.
    c.supplier = contactName(raw["supplier"]) ?? contactName(raw["manufacturer"]);
    c.author =
      str(raw["author"]) ??
      arr(raw["authors"])
        .map(contactName)
        .find((a) => a !== undefined) ??
      str(raw["publisher"]);
    c.hashes = hashes(raw["hashes"]);
    c.licenses = licenses(raw["licenses"]);
    // BSI TR-03183-2 v2.1 §8.2 Table 9: creator = manufacturer (url XOR contact e-mail); the
    // component's authors (1.6) and a legacy author string holding an e-mail name its creator too.
    c.creatorContacts = [
      ...contactsOf(raw["manufacturer"]),
      ...arr(raw["authors"]).flatMap(contactsOf),
      ...(str(raw["author"])?.match(EMAIL_IN_TEXT) ?? []),
    ];
    c.distributionLicenses = distributionLicenses(raw["licenses"]);
    // §8.2 Table 9: the deployable's hash sits on a "distribution" external reference; the
    // component's own hashes (CycloneDX §component.hashes) are those of the same file.
    c.deployableHashes = [
      ...arr(raw["externalReferences"])
        .map(obj)
        .filter((r) => r?.["type"] === "distribution")
        .flatMap((r) => hashes(r?.["hashes"])),
      ...c.hashes,
    ];
    // TR-03183-2 v2.1 §3.2.5, §8.2 "References to another BOM": externalReferences type "bom".
    c.referencedBom = arr(raw["externalReferences"])
      .map(obj)
      .filter((r) => r?.["type"] === "bom")
      .map((r) => str(r?.["url"]))
      .find((u) => u !== undefined);
    // §8.2 Table 9: the BSI property taxonomy (bsi:component:filename / executable / archive / structured).
    c.filename = property(raw, "bsi:component:filename");
    c.bsiProperties = {
      executable: property(raw, "bsi:component:executable"),
      archive: property(raw, "bsi:component:archive"),
      structured: property(raw, "bsi:component:structured"),
    };
    c.cpe = str(raw["cpe"]);
    const swid = str(obj(raw["swid"])?.["tagId"]);
    if (swid !== undefined) c.otherIds.push(`swid:${swid}`);
    const purlText = str(raw["purl"]);
    const purl = purlText === undefined ? undefined : parsePurl(purlText);
    if (purl !== undefined) {
      c.purl = purl.purl;
      c.ecosystem = purl.ecosystem;
      c.packageName = purl.packageName;
      c.version ??= purl.version;
    } else if (purlText !== undefined) c.otherIds.push(`invalid-purl:${purlText}`);
    this.components.push(c);
    // CycloneDX §component.components: nested components, kept with a reference to their parent.
    for (const child of arr(raw["components"])) {
      const o = obj(child);
      if (o !== undefined) this.add(o, ref);
    }
    return ref;
  }
}

function idOf(v: unknown): string {
  const id = str(obj(v)?.["id"]);
  return id === undefined ? "" : ` (${id})`;
}

export function normalizeCyclonedx(doc: Json): SbomDocument {
  const metadata = obj(doc["metadata"]);
  const collector = new Collector();
  const subject = obj(metadata?.["component"]);
  const subjectRef = subject === undefined ? undefined : collector.add(subject, undefined);
  for (const c of arr(doc["components"])) {
    const o = obj(c);
    if (o !== undefined) collector.add(o, undefined);
  }
  const authors = [
    ...arr(metadata?.["authors"]).map(contactName),
    contactName(metadata?.["manufacture"]),
    contactName(metadata?.["manufacturer"]),
    contactName(metadata?.["supplier"]),
  ].filter((a): a is string => a !== undefined);
  // CycloneDX §dependencies: [{ref, dependsOn: [ref]}].
  const dependencies: SbomDependency[] = arr(doc["dependencies"])
    .map((d) => obj(d))
    .filter((d): d is Json => d !== undefined && typeof d["ref"] === "string")
    .map((d) => ({
      ref: d["ref"] as string,
      dependsOn: arr(d["dependsOn"]).filter((x): x is string => typeof x === "string"),
    }));
  // CycloneDX 1.6 §compositions: {aggregate, assemblies: [ref], dependencies: [ref]} says how complete
  // the listed components' assemblies / dependency lists are (BSI TR-03183-2 v2.1 §8.2 Table 9).
  const completeness = new Map<string, SbomComponent["dependencyCompleteness"]>();
  for (const comp of arr(doc["compositions"]).map(obj)) {
    const aggregate = str(comp?.["aggregate"]);
    if (aggregate === undefined || aggregate === "not_specified") continue;
    const level =
      aggregate === "complete" ? "complete" : aggregate.startsWith("incomplete") ? "incomplete" : "unknown";
    for (const ref of [...arr(comp?.["assemblies"]), ...arr(comp?.["dependencies"])]) {
      if (typeof ref !== "string") continue;
      const known = completeness.get(ref);
      // A ref named twice keeps the weaker claim.
      if (known === undefined || known === "complete") completeness.set(ref, level);
    }
  }
  for (const c of collector.components) c.dependencyCompleteness = completeness.get(c.ref);
  // CycloneDX §vulnerabilities: vulnerability records inside the BOM (TR-03183-2 v2.1 §3.1 forbids them).
  const vulnerabilities = arr(doc["vulnerabilities"]);
  return {
    format: "cyclonedx",
    specVersion: String(doc["specVersion"]),
    id: str(doc["serialNumber"]),
    name: subject === undefined ? undefined : str(subject["name"]),
    timestamp: str(metadata?.["timestamp"]),
    authors: [...new Set(authors)],
    tools: toolNames(metadata?.["tools"]),
    subjectRef,
    components: collector.components,
    dependencies,
    // §8.2 Table 8: metadata.manufacturer (1.6; "manufacture" before) url XOR contact e-mail; the
    // BOM's authors (§metadata.authors, "the person(s) who created the BOM") with an e-mail count too.
    creatorContacts: [
      ...new Set([
        ...contactsOf(metadata?.["manufacturer"]),
        ...contactsOf(metadata?.["manufacture"]),
        ...arr(metadata?.["authors"]).flatMap(contactsOf),
      ]),
    ],
    vulnerabilityInfo: {
      count: vulnerabilities.length,
      where: vulnerabilities.slice(0, 3).map((v, i) => `/vulnerabilities/${i}${idOf(v)}`),
    },
  };
}
