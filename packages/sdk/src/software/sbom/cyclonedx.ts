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
  };
}
