/**
 * Reads a Debian dpkg status database (`/var/lib/dpkg/status`, deb-control(5) paragraphs) into an
 * inventory of installed packages with their Depends/Pre-Depends graph.
 */
import { PackageURL } from "packageurl-js";
import { SoftwareError } from "../../errors.ts";
import { type GeneratedPackage, type Inventory, isContact, newPackage, PACKAGE_ARCHIVE } from "./model.ts";

export interface DpkgOptions {
  /** purl "distro" qualifier, e.g. "debian-12" (purl-spec PURL-TYPES deb). */
  distro?: string;
  /** purl namespace: "debian" (default) or "ubuntu". */
  vendor?: string;
  subjectName?: string;
  source?: string;
}

/** deb-control(5): paragraphs of "Field: value" lines, continuation lines start with a space or tab. */
export function parseControlParagraphs(text: string, source: string): Map<string, string>[] {
  const out: Map<string, string>[] = [];
  let current = new Map<string, string>();
  let last: string | undefined;
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === "") {
      if (current.size > 0) out.push(current);
      current = new Map();
      last = undefined;
      return;
    }
    if (line.startsWith(" ") || line.startsWith("\t")) {
      if (last === undefined)
        throw new SoftwareError("BW_ERR_LOCKFILE_INVALID", "continuation line without a field", {
          path: `${source}:${i + 1}`,
        });
      current.set(last, `${current.get(last)}\n${line.trim()}`);
      return;
    }
    const colon = line.indexOf(":");
    if (colon <= 0)
      throw new SoftwareError("BW_ERR_LOCKFILE_INVALID", "expected 'Field: value'", {
        path: `${source}:${i + 1}`,
      });
    last = line.slice(0, colon);
    current.set(last, line.slice(colon + 1).trim());
  });
  if (current.size > 0) out.push(current);
  return out;
}

// deb-control(5) Maintainer: "Full Name <email>".
function personName(v: string | undefined): string | undefined {
  return v?.replace(/\s*<[^>]*>\s*$/, "").trim() || undefined;
}

// Debian Policy §7.1: "a (>= 1) | b [amd64], c:any" → alternatives of package names.
function relations(v: string | undefined): string[][] {
  if (v === undefined) return [];
  return v.split(",").map((group) =>
    group
      .split("|")
      .map((alt) =>
        alt
          .trim()
          .split(/[\s([<]/)[0]!
          .replace(/:.*$/, ""),
      )
      .filter((n) => n !== ""),
  );
}

export function inventoryFromDpkgStatus(text: string, options: DpkgOptions = {}): Inventory {
  const source = options.source ?? "status";
  const installed = parseControlParagraphs(text, source).filter((p) => {
    // dpkg-query(1) Status: "want flag status"; only fully installed packages are inventoried.
    const status = p.get("Status")?.split(/\s+/);
    return status?.[2] === "installed";
  });
  const byName = new Map<string, GeneratedPackage>();
  const provides = new Map<string, string>();
  const rawDeps = new Map<string, string[][]>();
  for (const p of installed) {
    const name = p.get("Package");
    const version = p.get("Version");
    if (name === undefined || version === undefined) {
      throw new SoftwareError("BW_ERR_LOCKFILE_INVALID", "installed package without Package or Version", {
        path: source,
      });
    }
    const arch = p.get("Architecture");
    const ref = arch === undefined || arch === "all" ? name : `${name}:${arch}`;
    const g = newPackage(ref, name, version);
    const qualifiers: Record<string, string> = {};
    if (arch !== undefined) qualifiers["arch"] = arch;
    if (options.distro !== undefined) qualifiers["distro"] = options.distro;
    g.purl = new PackageURL(
      "deb",
      options.vendor ?? "debian",
      name,
      version,
      qualifiers,
      undefined,
    ).toString();
    g.supplier = personName(p.get("Maintainer"));
    // deb-control(5) Maintainer "Name <email>": who made and maintains the package (TR-03183-2
    // §5.2.2 component creator, §8.1.8: the maintainer steps into the creator's role).
    const email = /<([^<>\s]+)>\s*$/.exec(p.get("Maintainer") ?? "")?.[1];
    if (email !== undefined && isContact(email)) g.creatorContact = email;
    // A .deb is a structured, non-executable archive (TR-03183-2 §8.1.7 Table 7, as an rpm); the
    // status database does not keep its file name or hash.
    g.fileKind = PACKAGE_ARCHIVE;
    byName.set(name, g);
    for (const alts of relations(p.get("Provides")))
      for (const v of alts) if (!provides.has(v)) provides.set(v, name);
    rawDeps.set(name, [...relations(p.get("Pre-Depends")), ...relations(p.get("Depends"))]);
  }
  for (const [name, groups] of rawDeps) {
    const g = byName.get(name)!;
    let unmet = 0;
    for (const alts of groups) {
      // The first alternative that is installed (directly or as a virtual package) satisfies the relation.
      const hit = alts
        .map((a) => byName.get(a) ?? byName.get(provides.get(a) ?? ""))
        .find((x) => x !== undefined);
      if (hit === undefined) unmet++;
      if (hit !== undefined && hit !== g && !g.dependsOn.includes(hit.ref)) g.dependsOn.push(hit.ref);
    }
    // Depends and Pre-Depends are the package's whole list (Debian Policy §7.2).
    g.dependencyCompleteness = unmet === 0 ? "complete" : "incomplete";
  }
  return {
    subject: {
      name: options.subjectName ?? "debian-system",
      version: undefined,
      supplier: undefined,
      purl: undefined,
    },
    packages: [...byName.values()],
    direct: undefined,
    // The system is every package the status database records as installed.
    directCompleteness: "complete",
  };
}
