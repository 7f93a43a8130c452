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
  interface Dep {
    name: string;
    version: string | undefined;
  }
  // uv.lock dependencies: [{name, version?, marker?}] (version only where the lock holds several
  // versions of the name); poetry.lock [package.dependencies]: name = constraint or {version,
  // optional, markers}, an optional one belonging to an extra that need not be installed.
  const depsOf = (e: Json, key: string): Dep[] =>
    isUv
      ? arr(e[key]).flatMap((d) => {
          const o = obj(d);
          return typeof o?.["name"] === "string"
            ? [
                {
                  name: normalizePypiName(o["name"]),
                  version: typeof o["version"] === "string" ? o["version"] : undefined,
                },
              ]
            : [];
        })
      : Object.entries(obj(e[key]) ?? {})
          .filter(([, v]) => obj(v)?.["optional"] !== true)
          .map(([n]) => ({ name: normalizePypiName(n), version: undefined }));
  // uv.lock [package.optional-dependencies] / [package.dev-dependencies]: {group: [dep]}.
  const groupDeps = (e: Json, key: string): Dep[] =>
    Object.keys(obj(e[key]) ?? {}).flatMap((g) => depsOf(obj(e[key])!, g));

  const packages: GeneratedPackage[] = [];
  const packageDeps = new Map<GeneratedPackage, Dep[]>();
  let subject: Inventory["subject"] = {
    name: subjectName,
    version: undefined,
    supplier: undefined,
    purl: undefined,
  };
  let rootDeps: { runtime: Dep[]; development: Dep[] } | undefined;
  list.forEach((v, i) => {
    const e = obj(v);
    const name = e?.["name"];
    const version = e?.["version"];
    if (e === undefined || typeof name !== "string") bad("package without a name", `${source}#/package/${i}`);
    // uv.lock: the project itself has an editable or virtual source.
    const src = obj(e["source"]);
    const isRoot = isUv && (src?.["editable"] === "." || src?.["virtual"] === ".");
    if (isRoot) {
      // The project named as PyPI would name it (as npm-lock.ts names the npm project).
      subject = {
        name,
        version: typeof version === "string" ? version : undefined,
        supplier: undefined,
        purl: typeof version === "string" ? pypiPurl(name, version) : undefined,
      };
      rootDeps = {
        runtime: [...depsOf(e, "dependencies"), ...groupDeps(e, "optional-dependencies")],
        development: groupDeps(e, "dev-dependencies"),
      };
      return;
    }
    if (typeof version !== "string") bad("package without a version", `${source}#/package/${i}`);
    const p = newPackage(normalizePypiName(name), name, version);
    p.purl = pypiPurl(name, version);
    packageDeps.set(p, [...depsOf(e, "dependencies"), ...groupDeps(e, "optional-dependencies")]);
    // poetry.lock: category "dev" (lock format 1.x) or groups without "main" (2.x).
    const groups = arr(e["groups"]);
    p.development = e["category"] === "dev" || (groups.length > 0 && !groups.includes("main"));
    p.fileKind = PACKAGE_ARCHIVE;
    // The file installed, and so its name and hash, is known only when the lock lists a single one
    // (uv sdist / wheels[], poetry files[]); with several, the installer picks one per platform.
    const files = [obj(e["sdist"]), ...arr(e["wheels"]).map(obj), ...arr(e["files"]).map(obj)].filter(
      (f): f is Json => f !== undefined,
    );
    if (files.length === 1) {
      const path = files[0]!["url"] ?? files[0]!["file"];
      if (typeof path === "string") p.filename = path.slice(path.lastIndexOf("/") + 1);
      const hash = hashFrom(files[0]!["hash"]);
      if (hash) p.hashes[hash[0]] = hash[1];
    }
    packages.push(p);
  });
  // A name locked at several versions (uv, one per set of markers) gets "name@version" refs.
  const byName = new Map<string, GeneratedPackage[]>();
  for (const p of packages) byName.set(p.ref, [...(byName.get(p.ref) ?? []), p]);
  for (const same of byName.values())
    if (same.length > 1) for (const p of same) p.ref = `${p.ref}@${p.version}`;
  const resolve = (d: Dep): string[] => {
    const same = byName.get(d.name) ?? [];
    const hit = d.version === undefined ? same : same.filter((p) => p.version === d.version);
    return hit.map((p) => p.ref);
  };
  // poetry.lock and uv.lock list every package of the resolution with its dependencies, so a
  // package's list is complete when each one is in the lock.
  const complete = (deps: Dep[]) => (deps.every((d) => resolve(d).length > 0) ? "complete" : "incomplete");
  for (const [p, deps] of packageDeps) {
    p.dependsOn = [...new Set(deps.flatMap(resolve))];
    p.dependencyCompleteness = complete(deps);
  }
  if (rootDeps === undefined) return { subject, packages, direct: undefined, directCompleteness: "unknown" };
  const { runtime, development } = rootDeps;
  // uv.lock has no per-package group: a package the project reaches only through its
  // dev-dependencies is development-only.
  const byRef = new Map(packages.map((p) => [p.ref, p]));
  const reached = new Set<string>();
  const walk = (refs: string[]): void => {
    for (const r of refs) {
      if (reached.has(r)) continue;
      reached.add(r);
      walk(byRef.get(r)?.dependsOn ?? []);
    }
  };
  walk(runtime.flatMap(resolve));
  for (const p of packages) if (!reached.has(p.ref)) p.development = true;
  return {
    subject,
    packages,
    direct: [...new Set([...runtime, ...development].flatMap(resolve))],
    directCompleteness: complete([...runtime, ...development]),
  };
}
