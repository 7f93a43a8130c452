/** Package URL handling: parsing (packageurl-js) and mapping purl types to OSV ecosystems and names. */
import { PackageURL } from "packageurl-js";

export interface PurlIdentity {
  /** Canonical purl text. */
  purl: string;
  type: string;
  version: string | undefined;
  ecosystem: string | undefined;
  packageName: string | undefined;
}

// purl-spec PURL-TYPES.rst: distro qualifiers name the release, e.g. "debian-12", "alpine-3.19".
function release(qualifiers: Record<string, string> | undefined, prefix: string): string | undefined {
  const distro = qualifiers?.["distro"];
  if (distro === undefined) return undefined;
  const m = new RegExp(`^(?:${prefix}-)?(\\d+(?:\\.\\d+)?)`, "i").exec(distro);
  return m?.[1];
}

const RPM_VENDORS: Record<string, string> = {
  redhat: "Red Hat",
  rocky: "Rocky Linux",
  "rocky-linux": "Rocky Linux",
  almalinux: "AlmaLinux",
  opensuse: "openSUSE",
  suse: "SUSE",
  openeuler: "openEuler",
  mageia: "Mageia",
};

/** OSV ecosystem and OSV package name for a parsed purl (undefined when the type has no OSV ecosystem). */
function osvIdentity(p: PackageURL): { ecosystem: string; name: string } | undefined {
  const ns = p.namespace ?? undefined;
  const joined = ns === undefined ? p.name : `${ns}/${p.name}`;
  switch (p.type) {
    case "npm":
      return { ecosystem: "npm", name: joined };
    case "pypi":
      return { ecosystem: "PyPI", name: p.name };
    case "golang":
      return { ecosystem: "Go", name: joined };
    case "maven":
      // OSV schema ecosystems: Maven names are "groupId:artifactId".
      return { ecosystem: "Maven", name: ns === undefined ? p.name : `${ns}:${p.name}` };
    case "cargo":
      return { ecosystem: "crates.io", name: p.name };
    case "gem":
      return { ecosystem: "RubyGems", name: p.name };
    case "nuget":
      return { ecosystem: "NuGet", name: p.name };
    case "composer":
      return { ecosystem: "Packagist", name: joined };
    case "pub":
      return { ecosystem: "Pub", name: p.name };
    case "cran":
      return { ecosystem: "CRAN", name: p.name };
    case "hackage":
      return { ecosystem: "Hackage", name: p.name };
    case "hex":
      return { ecosystem: "Hex", name: p.name };
    case "swift":
      return { ecosystem: "SwiftURL", name: joined };
    case "deb": {
      const base = ns?.toLowerCase() === "ubuntu" ? "Ubuntu" : "Debian";
      const rel = release(p.qualifiers, base.toLowerCase());
      return { ecosystem: rel === undefined ? base : `${base}:${rel}`, name: p.name };
    }
    case "apk": {
      const base =
        ns?.toLowerCase() === "wolfi"
          ? "Wolfi"
          : ns?.toLowerCase() === "chainguard"
            ? "Chainguard"
            : "Alpine";
      const rel = base === "Alpine" ? release(p.qualifiers, "alpine") : undefined;
      return { ecosystem: rel === undefined ? base : `${base}:v${rel}`, name: p.name };
    }
    case "rpm": {
      const vendor = ns === undefined ? undefined : RPM_VENDORS[ns.toLowerCase()];
      return vendor === undefined ? undefined : { ecosystem: vendor, name: p.name };
    }
    default:
      return undefined;
  }
}

/** Parses a purl; undefined if it is not a valid purl. */
export function parsePurl(text: string): PurlIdentity | undefined {
  let p: PackageURL;
  try {
    p = PackageURL.fromString(text.trim());
  } catch {
    return undefined;
  }
  const osv = osvIdentity(p);
  return {
    purl: p.toString(),
    type: p.type,
    version: p.version ?? undefined,
    ecosystem: osv?.ecosystem,
    packageName: osv?.name,
  };
}
