/**
 * Reads an npm `package-lock.json` (lockfileVersion 2 or 3, the "packages" map) into an inventory,
 * resolving each dependency the way Node resolves modules: nearest enclosing node_modules first.
 */
import { PackageURL } from "packageurl-js";
import { SoftwareError } from "../../errors.ts";
import {
  type GeneratedPackage,
  type HashAlgorithm,
  type Inventory,
  newPackage,
  PACKAGE_ARCHIVE,
} from "./model.ts";

type Json = Record<string, unknown>;

function obj(v: unknown): Json | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
}

function bad(message: string, path: string): never {
  throw new SoftwareError("BW_ERR_LOCKFILE_INVALID", message, { path });
}

// W3C Subresource Integrity §3.5: "sha512-<base64>" (several may be listed, space separated).
function integrityHashes(integrity: unknown): GeneratedPackage["hashes"] {
  const out: GeneratedPackage["hashes"] = {};
  if (typeof integrity !== "string") return out;
  const names: Record<string, HashAlgorithm> = {
    sha1: "SHA-1",
    sha256: "SHA-256",
    sha384: "SHA-384",
    sha512: "SHA-512",
  };
  for (const item of integrity.split(/\s+/)) {
    const m = /^(sha1|sha256|sha384|sha512)-([A-Za-z0-9+/=]+)$/.exec(item);
    if (m) out[names[m[1]!]!] = Buffer.from(m[2]!, "base64").toString("hex");
  }
  return out;
}

function nameFromKey(key: string): string {
  const i = key.lastIndexOf("node_modules/");
  return i === -1 ? key : key.slice(i + "node_modules/".length);
}

function npmPurl(name: string, version: string): string {
  const slash = name.startsWith("@") ? name.indexOf("/") : -1;
  const ns = slash === -1 ? undefined : name.slice(0, slash);
  const n = slash === -1 ? name : name.slice(slash + 1);
  return new PackageURL("npm", ns, n, version, undefined, undefined).toString();
}

/**
 * The name of the tarball npm installs the package from (BSI TR-03183-2 v2.1.0 §5.2.2 filename, the
 * file whose SHA-512 `integrity` holds): the last segment of `resolved`; a lockfile written without
 * `resolved` (npm `omit-lockfile-registry-resolved`) keeps `integrity` only for registry packages, whose
 * tarball the registry names "<name without scope>-<version>.tgz" (npm registry API, the `dist.tarball`
 * of every version). Anything else (git, a folder, a workspace) has no known file.
 */
function tarballName(e: Json, name: string, version: string): string | undefined {
  const resolved = e["resolved"];
  if (typeof resolved === "string") {
    const m = /^https?:\/\/[^?#]*\/([^/?#]+\.tgz)(?:[?#].*)?$/.exec(resolved);
    return m ? decodeURIComponent(m[1]!) : undefined;
  }
  if (typeof e["integrity"] !== "string") return undefined;
  return `${name.slice(name.lastIndexOf("/") + 1)}-${version}.tgz`;
}

function licenseOf(v: unknown): string[] {
  if (typeof v === "string") return [v];
  const o = obj(v);
  return typeof o?.["type"] === "string" ? [o["type"]] : [];
}

export function inventoryFromPackageLock(text: string, source = "package-lock.json"): Inventory {
  let doc: Json | undefined;
  try {
    doc = obj(JSON.parse(text));
  } catch (e) {
    bad(`not valid JSON: ${(e as Error).message}`, source);
  }
  if (doc === undefined) bad("not a JSON object", source);
  const lockVersion = doc["lockfileVersion"];
  // npm docs "package-lock.json" §lockfileVersion: 2 and 3 carry the "packages" map; 1 does not.
  if (lockVersion !== 2 && lockVersion !== 3)
    bad(`lockfileVersion ${String(lockVersion)} is not supported (2 or 3)`, `${source}#/lockfileVersion`);
  const entries = obj(doc["packages"]);
  if (entries === undefined) bad("no packages map", `${source}#/packages`);

  const resolveLink = (key: string): string => {
    const e = obj(entries[key]);
    return e?.["link"] === true && typeof e["resolved"] === "string" ? e["resolved"] : key;
  };
  // Node module resolution: look in <dir>/node_modules/<name>, then each enclosing node_modules.
  const resolve = (from: string, dep: string): string | undefined => {
    let base = from;
    for (;;) {
      const candidate = `${base === "" ? "" : `${base}/`}node_modules/${dep}`;
      if (entries[candidate] !== undefined) return resolveLink(candidate);
      if (base === "") return undefined;
      const i = base.lastIndexOf("/node_modules/");
      base = i === -1 ? "" : base.slice(0, i);
    }
  };
  // npm docs "package.json" §peerDependenciesMeta: an optional peer need not be installed.
  const optionalPeers = (e: Json): Set<string> =>
    new Set(
      Object.entries(obj(e["peerDependenciesMeta"]) ?? {})
        .filter(([, m]) => obj(m)?.["optional"] === true)
        .map(([n]) => n),
    );
  const depNames = (e: Json, withDev: boolean): string[] => {
    const fields = [
      "dependencies",
      "optionalDependencies",
      "peerDependencies",
      ...(withDev ? ["devDependencies"] : []),
    ];
    return [...new Set(fields.flatMap((f) => Object.keys(obj(e[f]) ?? {})))];
  };

  const packages: GeneratedPackage[] = [];
  const included = new Set<string>();
  for (const [key, value] of Object.entries(entries)) {
    const e = obj(value);
    if (e === undefined) bad("expected an object", `${source}#/packages/${key}`);
    if (key === "" || e["link"] === true) continue;
    const name = typeof e["name"] === "string" ? e["name"] : nameFromKey(key);
    const version = e["version"];
    if (typeof version !== "string") bad("package without a version", `${source}#/packages/${key}`);
    const p = newPackage(key, name, version);
    p.purl = npmPurl(name, version);
    p.hashes = integrityHashes(e["integrity"]);
    p.licenses = licenseOf(e["license"]);
    p.development = e["dev"] === true;
    p.filename = tarballName(e, name, version);
    if (p.filename !== undefined) p.fileKind = PACKAGE_ARCHIVE;
    const optional = optionalPeers(e);
    let unresolved = 0;
    p.dependsOn = depNames(e, !key.includes("node_modules/")).flatMap((d) => {
      const r = resolve(key, d);
      if (r === undefined && !optional.has(d)) unresolved++;
      return r === undefined || r === key ? [] : [r];
    });
    // npm docs "package-lock.json" (v2/v3): "packages" holds every package the install needs with
    // its declared dependencies, so the list is complete when each of them was found.
    p.dependencyCompleteness = unresolved === 0 ? "complete" : "incomplete";
    packages.push(p);
    included.add(key);
  }
  for (const p of packages) p.dependsOn = p.dependsOn.filter((d) => included.has(d));
  const root = obj(entries[""]) ?? {};
  const rootOptional = optionalPeers(root);
  const rootNames = depNames(root, true);
  const direct = rootNames
    .map((d) => resolve("", d))
    .filter((r): r is string => r !== undefined && included.has(r));
  const rootUnresolved = rootNames.filter((d) => resolve("", d) === undefined && !rootOptional.has(d));
  // npm workspaces: workspace packages are direct parts of the root project too.
  for (const p of packages) if (!p.ref.includes("node_modules/")) direct.push(p.ref);
  const name =
    typeof root["name"] === "string"
      ? root["name"]
      : typeof doc["name"] === "string"
        ? doc["name"]
        : "project";
  const version = typeof root["version"] === "string" ? root["version"] : undefined;
  return {
    subject: {
      name,
      version,
      supplier: undefined,
      purl: version === undefined ? undefined : npmPurl(name, version),
    },
    packages,
    direct: [...new Set(direct)],
    directCompleteness: rootUnresolved.length === 0 ? "complete" : "incomplete",
  };
}
