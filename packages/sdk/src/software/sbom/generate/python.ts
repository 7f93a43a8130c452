/**
 * Reads Python dependency pins into an inventory: `requirements.txt` with exact `==` pins (pip
 * "Requirements File Format"), and the TOML lock files of Poetry (`poetry.lock`) and uv (`uv.lock`).
 */
import { PackageURL } from "packageurl-js";
import { parse as parseToml } from "smol-toml";
import { SoftwareError } from "../../errors.ts";
import { normalizePypiName } from "../../osv/names.ts";
import {
  type GeneratedPackage,
  type HashAlgorithm,
  type Inventory,
  newPackage,
  PACKAGE_ARCHIVE,
} from "./model.ts";

type Json = Record<string, unknown>;

function bad(message: string, path: string): never {
  throw new SoftwareError("BW_ERR_LOCKFILE_INVALID", message, { path });
}

function pypiPurl(name: string, version: string): string {
  return new PackageURL("pypi", undefined, normalizePypiName(name), version, undefined, undefined).toString();
}

const HASH_NAMES: Record<string, HashAlgorithm> = {
  sha1: "SHA-1",
  sha256: "SHA-256",
  sha384: "SHA-384",
  sha512: "SHA-512",
};

function hashFrom(text: unknown): [HashAlgorithm, string] | undefined {
  if (typeof text !== "string") return undefined;
  const m = /^(sha1|sha256|sha384|sha512)[:=]([0-9a-fA-F]+)$/.exec(text);
  return m ? [HASH_NAMES[m[1]!]!, m[2]!.toLowerCase()] : undefined;
}

// PEP 508 name, optional extras, "==" or "===" pin; pip §Requirements File Format for options and "\" joins.
const PIN = /^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\])?\s*===?\s*([^\s;#\\]+)/;

export function inventoryFromRequirements(
  text: string,
  source = "requirements.txt",
  subjectName = "project",
): Inventory {
  const packages = new Map<string, GeneratedPackage>();
  const lines = text.replace(/\\\r?\n/g, " ").split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.replace(/(^|\s)#.*$/, "").trim();
    if (line === "" || line.startsWith("-")) return;
    const m = PIN.exec(line);
    if (m === null) bad(`not an exact "==" pin: ${JSON.stringify(line.slice(0, 80))}`, `${source}:${i + 1}`);
    const ref = normalizePypiName(m[1]!);
    const p = newPackage(ref, m[1]!, m[2]!);
    p.purl = pypiPurl(m[1]!, m[2]!);
    // A wheel or sdist is a structured, non-executable archive (TR-03183-2 §8.1.7); which of the
    // pinned files is installed, its name, and the package's own dependencies are not in the file.
    p.fileKind = PACKAGE_ARCHIVE;
    for (const h of line.matchAll(/--hash[= ](\S+)/g)) {
      const parsed = hashFrom(h[1]);
      if (parsed && p.hashes[parsed[0]] === undefined) p.hashes[parsed[0]] = parsed[1];
    }
    packages.set(ref, p);
  });
  return {
    subject: { name: subjectName, version: undefined, supplier: undefined, purl: undefined },
    packages: [...packages.values()],
    direct: undefined,
  };
}

function obj(v: unknown): Json | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
}
function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** Reads `poetry.lock` or `uv.lock` (told apart by their top-level keys). */
export function inventoryFromPythonLock(
  text: string,
  source = "poetry.lock",
  subjectName = "project",
): Inventory {
  let doc: Json;
  try {
    doc = parseToml(text) as Json;
  } catch (e) {
    bad(`not valid TOML: ${(e as Error).message}`, source);
  }
  const isUv = doc["requires-python"] !== undefined || typeof doc["version"] === "number";
  const list = arr(doc["package"]);
  if (list.length === 0 && doc["package"] !== undefined)
    bad("package must be an array of tables", `${source}#/package`);
  const packages: GeneratedPackage[] = [];
  let subject: Inventory["subject"] = {
    name: subjectName,
    version: undefined,
    supplier: undefined,
    purl: undefined,
  };
  let direct: string[] | undefined;
  list.forEach((v, i) => {
    const e = obj(v);
    const name = e?.["name"];
    const version = e?.["version"];
    if (e === undefined || typeof name !== "string") bad("package without a name", `${source}#/package/${i}`);
    // uv.lock: the project itself has an editable or virtual source.
    const src = obj(e["source"]);
    const isRoot = isUv && (src?.["editable"] === "." || src?.["virtual"] === ".");
    // poetry.lock [package.dependencies]: name = constraint or {version, optional, markers}; an
    // optional one belongs to an extra and need not be installed.
    const deps = isUv
      ? arr(e["dependencies"]).flatMap((d) =>
          typeof obj(d)?.["name"] === "string" ? [normalizePypiName(obj(d)!["name"] as string)] : [],
        )
      : Object.entries(obj(e["dependencies"]) ?? {})
          .filter(([, v]) => obj(v)?.["optional"] !== true)
          .map(([n]) => normalizePypiName(n));
    if (isRoot) {
      subject = {
        name,
        version: typeof version === "string" ? version : undefined,
        supplier: undefined,
        purl: undefined,
      };
      direct = deps;
      return;
    }
    if (typeof version !== "string") bad("package without a version", `${source}#/package/${i}`);
    const p = newPackage(normalizePypiName(name), name, version);
    p.purl = pypiPurl(name, version);
    p.dependsOn = deps;
    // poetry.lock: category "dev" (lock format 1.x) or groups without "main" (2.x).
    const groups = arr(e["groups"]);
    p.development = e["category"] === "dev" || (groups.length > 0 && !groups.includes("main"));
    // uv.lock: sdist.hash, wheels[].hash; poetry.lock: files[].hash.
    const hashes = [
      obj(e["sdist"])?.["hash"],
      ...arr(e["wheels"]).map((w) => obj(w)?.["hash"]),
      ...arr(e["files"]).map((f) => obj(f)?.["hash"]),
    ];
    const first = hashes.map(hashFrom).find((h) => h !== undefined);
    if (first) p.hashes[first[0]] = first[1];
    p.fileKind = PACKAGE_ARCHIVE;
    // The file installed is known only when the lock lists a single one (poetry files[].file, uv
    // sdist/wheels url); with several, which one a platform installs is decided at install time.
    const files = [
      obj(e["sdist"])?.["url"],
      ...arr(e["wheels"]).map((w) => obj(w)?.["url"]),
      ...arr(e["files"]).map((f) => obj(f)?.["file"]),
    ].filter((f): f is string => typeof f === "string");
    if (files.length === 1) p.filename = files[0]!.slice(files[0]!.lastIndexOf("/") + 1);
    packages.push(p);
  });
  const known = new Set(packages.map((p) => p.ref));
  // poetry.lock and uv.lock list every package of the resolution with its dependencies, so a
  // package's list is complete when each one is in the lock.
  for (const p of packages) {
    p.dependencyCompleteness = p.dependsOn.every((d) => known.has(d)) ? "complete" : "incomplete";
    p.dependsOn = p.dependsOn.filter((d) => known.has(d));
  }
  const root = direct?.filter((d) => known.has(d));
  return {
    subject,
    packages,
    direct: root,
    directCompleteness:
      direct === undefined ? "unknown" : root!.length === direct.length ? "complete" : "incomplete",
  };
}
