/** Maps OSV ecosystem names to version-ordering schemes and exposes one comparison entry point. */
import { SoftwareError } from "../errors.ts";
import { compareAlpine } from "./alpine.ts";
import { compareCran } from "./cran.ts";
import { compareDebian } from "./debian.ts";
import { compareHackage } from "./hackage.ts";
import { compareMaven } from "./maven.ts";
import { compareNuget } from "./nuget.ts";
import { comparePackagist } from "./packagist.ts";
import { comparePub } from "./pub.ts";
import { comparePypi, pypiKey } from "./pypi.ts";
import { compareRpm } from "./rpm.ts";
import { compareRubygems } from "./rubygems.ts";
import { compareSemver, semverKey } from "./semver.ts";

export type VersionScheme =
  | "semver"
  | "pypi"
  | "maven"
  | "debian"
  | "alpine"
  | "rpm"
  | "rubygems"
  | "nuget"
  | "packagist"
  | "pub"
  | "cran"
  | "hackage";

export type Comparator = (a: string, b: string) => -1 | 0 | 1;

// OSV schema §affected.package.ecosystem: the defined ecosystem names (a ":suffix" names a release).
const ECOSYSTEM_SCHEMES: Readonly<Record<string, VersionScheme>> = {
  npm: "semver",
  Go: "semver",
  "crates.io": "semver",
  Hex: "semver",
  Bitnami: "semver",
  ConanCenter: "semver",
  GHC: "semver",
  Julia: "semver",
  SwiftURL: "semver",
  Bioconductor: "semver",
  PyPI: "pypi",
  Maven: "maven",
  Debian: "debian",
  Ubuntu: "debian",
  Alpine: "alpine",
  Wolfi: "alpine",
  Chainguard: "alpine",
  MinimOS: "alpine",
  Alpaquita: "alpine",
  "BellSoft Hardened Containers": "alpine",
  "Red Hat": "rpm",
  "Rocky Linux": "rpm",
  AlmaLinux: "rpm",
  openSUSE: "rpm",
  SUSE: "rpm",
  openEuler: "rpm",
  Mageia: "rpm",
  RubyGems: "rubygems",
  NuGet: "nuget",
  Packagist: "packagist",
  Pub: "pub",
  CRAN: "cran",
  Hackage: "hackage",
};

export function schemeComparator(scheme: VersionScheme): Comparator {
  switch (scheme) {
    case "semver":
      return compareSemver;
    case "pypi":
      return comparePypi;
    case "maven":
      return compareMaven;
    case "debian":
      return compareDebian;
    case "alpine":
      return compareAlpine;
    case "rpm":
      return compareRpm;
    case "rubygems":
      return compareRubygems;
    case "nuget":
      return compareNuget;
    case "packagist":
      return comparePackagist;
    case "pub":
      return comparePub;
    case "cran":
      return compareCran;
    case "hackage":
      return compareHackage;
    default: {
      const never: never = scheme;
      throw new Error(`unreachable scheme ${String(never)}`);
    }
  }
}

/** The base ecosystem of an OSV ecosystem string ("Debian:12" → "Debian", "Alpine:v3.19" → "Alpine"). */
export function baseEcosystem(ecosystem: string): string {
  const i = ecosystem.indexOf(":");
  return i === -1 ? ecosystem : ecosystem.slice(0, i);
}

/** The scheme for an OSV ecosystem name, or undefined when it is not supported. */
export function ecosystemScheme(ecosystem: string): VersionScheme | undefined {
  const base = baseEcosystem(ecosystem);
  return Object.hasOwn(ECOSYSTEM_SCHEMES, base) ? ECOSYSTEM_SCHEMES[base] : undefined;
}

export function comparatorFor(ecosystem: string): Comparator {
  const scheme = ecosystemScheme(ecosystem);
  if (scheme === undefined) {
    throw new SoftwareError(
      "BW_ERR_ECOSYSTEM_UNSUPPORTED",
      `no version ordering for ecosystem ${JSON.stringify(ecosystem)}`,
    );
  }
  return schemeComparator(scheme);
}

/** Compares two versions of one ecosystem: negative, zero or positive. Throws for unknown ecosystems. */
export function compareVersions(ecosystem: string, a: string, b: string): -1 | 0 | 1 {
  return comparatorFor(ecosystem)(a, b);
}

/**
 * For the schemes that have one, a key equal for two versions exactly when their comparator says they
 * are equal (so OSV `versions` lists match as ranges compare, with a Set); undefined for the others,
 * whose lists are searched with the comparator.
 */
export function equalityKey(scheme: VersionScheme | undefined): ((version: string) => string) | undefined {
  if (scheme === "semver") return semverKey;
  if (scheme === "pypi") return pypiKey;
  return undefined;
}

/** The form of a version used for matching against OSV `versions` lists (its equality key, if any). */
export function normalizeVersion(ecosystem: string, version: string): string {
  return equalityKey(ecosystemScheme(ecosystem))?.(version) ?? version;
}
