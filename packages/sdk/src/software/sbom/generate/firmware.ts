/**
 * Reads a Bulwark firmware manifest (JSON, format documented in docs/software-engine.md):
 *
 *   { "bulwarkFirmwareManifest": 1,
 *     "product": { "name": "gw-100", "version": "4.2.0", "supplier": "ACME GmbH" },
 *     "components": [ { "name": "openssl", "version": "3.0.13", "purl": "pkg:generic/openssl@3.0.13",
 *                       "supplier": "OpenSSL", "licenses": ["Apache-2.0"],
 *                       "hashes": { "SHA-256": "<hex>" }, "dependsOn": ["zlib"] } ] }
 *
 * Component names are unique; dependsOn lists names of other components; an optional top-level
 * "direct": [names] says what the product itself uses directly (default: every component).
 *
 * Optional, for BSI TR-03183-2 v2.1.0 §5.2.2 (only the manifest's author knows them): per component
 * "creator" (an e-mail address or URL), "filename" (no path), "file": {"executable", "archive",
 * "structured": booleans} and "dependenciesComplete" (true when dependsOn lists every dependency);
 * "product.creator" and a top-level "directComplete" likewise for the product.
 */
import { SoftwareError } from "../../errors.ts";
import { parsePurl } from "../purl.ts";
import { type GeneratedPackage, type HashAlgorithm, type Inventory, isContact, newPackage } from "./model.ts";

type Json = Record<string, unknown>;

const HASH_LENGTHS: Record<HashAlgorithm, number> = {
  "SHA-1": 40,
  "SHA-256": 64,
  "SHA-384": 96,
  "SHA-512": 128,
};

function bad(message: string, path: string): never {
  throw new SoftwareError("BW_ERR_MANIFEST_INVALID", message, { path });
}

function obj(v: unknown, path: string): Json {
  if (typeof v !== "object" || v === null || Array.isArray(v)) bad("expected an object", path);
  return v as Json;
}

function text(o: Json, key: string, path: string, required: boolean): string | undefined {
  const v = o[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== "string" || v.trim() === "") bad("expected a non-empty string", `${path}/${key}`);
  return v;
}

function strings(o: Json, key: string, path: string): string[] {
  const v = o[key];
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string"))
    bad("expected an array of strings", `${path}/${key}`);
  return v as string[];
}

function flag(o: Json, key: string, path: string): boolean | undefined {
  const v = o[key];
  if (v !== undefined && typeof v !== "boolean") bad("expected true or false", `${path}/${key}`);
  return v as boolean | undefined;
}

function contact(o: Json, path: string): string | undefined {
  const v = text(o, "creator", path, false);
  if (v !== undefined && !isContact(v))
    bad("expected an e-mail address or an http(s) URL", `${path}/creator`);
  return v;
}

function completeness(v: boolean | undefined): GeneratedPackage["dependencyCompleteness"] {
  return v === undefined ? "unknown" : v ? "complete" : "incomplete";
}

export function inventoryFromFirmwareManifest(input: string, source = "manifest.json"): Inventory {
  let doc: unknown;
  try {
    doc = JSON.parse(input);
  } catch (e) {
    bad(`not valid JSON: ${(e as Error).message}`, source);
  }
  const root = obj(doc, `${source}#`);
  if (root["bulwarkFirmwareManifest"] !== 1)
    bad("bulwarkFirmwareManifest must be 1", `${source}#/bulwarkFirmwareManifest`);
  const product = obj(root["product"], `${source}#/product`);
  const list = root["components"];
  if (!Array.isArray(list)) bad("expected an array", `${source}#/components`);
  const packages: GeneratedPackage[] = [];
  const names = new Set<string>();
  list.forEach((raw, i) => {
    const path = `${source}#/components/${i}`;
    const c = obj(raw, path);
    const name = text(c, "name", path, true)!;
    if (names.has(name)) bad(`duplicate component name ${JSON.stringify(name)}`, `${path}/name`);
    names.add(name);
    const p = newPackage(name, name, text(c, "version", path, true)!);
    const purl = text(c, "purl", path, false);
    if (purl !== undefined) {
      const parsed = parsePurl(purl);
      if (parsed === undefined) bad("not a valid purl", `${path}/purl`);
      p.purl = parsed.purl;
    }
    p.supplier = text(c, "supplier", path, false);
    p.licenses = strings(c, "licenses", path);
    p.dependsOn = strings(c, "dependsOn", path);
    p.creatorContact = contact(c, path);
    p.filename = text(c, "filename", path, false);
    // TR §5.2.2: "the actual filename of the component (i.e. not its file system path)".
    if (p.filename !== undefined && /[\\/]/.test(p.filename))
      bad("a file name, not a path", `${path}/filename`);
    p.dependencyCompleteness = completeness(flag(c, "dependenciesComplete", path));
    if (c["file"] !== undefined) {
      const f = obj(c["file"], `${path}/file`);
      const [x, a, st] = ["executable", "archive", "structured"].map((k) => flag(f, k, `${path}/file`));
      if (x === undefined || a === undefined || st === undefined)
        bad("executable, archive and structured are all needed", `${path}/file`);
      // TR §8.1.4–8.1.6 values.
      p.fileKind = {
        executable: x ? "executable" : "non-executable",
        archive: a ? "archive" : "no archive",
        structured: st ? "structured" : "unstructured",
      };
    }
    const hashes = c["hashes"] === undefined ? {} : obj(c["hashes"], `${path}/hashes`);
    for (const [alg, value] of Object.entries(hashes)) {
      const len = HASH_LENGTHS[alg as HashAlgorithm];
      if (len === undefined)
        bad(`unknown hash algorithm ${alg} (SHA-1, SHA-256, SHA-384, SHA-512)`, `${path}/hashes/${alg}`);
      if (typeof value !== "string" || !new RegExp(`^[0-9a-fA-F]{${len}}$`).test(value)) {
        bad(`expected ${len} hex digits`, `${path}/hashes/${alg}`);
      }
      p.hashes[alg as HashAlgorithm] = value.toLowerCase();
    }
    packages.push(p);
  });
  packages.forEach((p, i) => {
    const missing = p.dependsOn.find((d) => !names.has(d));
    if (missing !== undefined)
      bad(
        `dependsOn names unknown component ${JSON.stringify(missing)}`,
        `${source}#/components/${i}/dependsOn`,
      );
  });
  const direct = strings(root, "direct", `${source}#`);
  const unknown = direct.find((d) => !names.has(d));
  if (unknown !== undefined)
    bad(`direct names unknown component ${JSON.stringify(unknown)}`, `${source}#/direct`);
  return {
    subject: {
      name: text(product, "name", `${source}#/product`, true)!,
      version: text(product, "version", `${source}#/product`, false),
      supplier: text(product, "supplier", `${source}#/product`, false),
      purl: undefined,
      creatorContact: contact(product, `${source}#/product`),
    },
    packages,
    direct: direct.length > 0 ? direct : undefined,
    directCompleteness: completeness(flag(root, "directComplete", `${source}#`)),
  };
}
