/** Package-name normalisation per ecosystem, so SBOM names and OSV names meet in one index key. */
import { baseEcosystem } from "../versions/registry.ts";

// PEP 503 §Normalized Names: lower-case, runs of "-", "_", "." become one "-".
export function normalizePypiName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, "-");
}

export function normalizePackageName(ecosystem: string, name: string): string {
  switch (baseEcosystem(ecosystem)) {
    case "PyPI":
      return normalizePypiName(name);
    // NuGet package ids and Composer package names are case-insensitive.
    case "NuGet":
    case "Packagist":
      return name.toLowerCase();
    default:
      // Go module paths, Maven group:artifact, npm names etc. are compared as written.
      return name;
  }
}

/** The index key of a package: base ecosystem + normalised name. */
export function packageKey(ecosystem: string, name: string): string {
  return `${baseEcosystem(ecosystem)}\u0000${normalizePackageName(ecosystem, name)}`;
}

/** The release part of an ecosystem ("Debian:12" → "12"), if any. */
export function ecosystemRelease(ecosystem: string): string | undefined {
  const i = ecosystem.indexOf(":");
  return i === -1 ? undefined : ecosystem.slice(i + 1);
}
