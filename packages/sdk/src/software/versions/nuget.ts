/** NuGet versions: SemVer 2.0.0 plus a fourth "revision" number, compared case-insensitively. */
import { compareComponentLists } from "./numeric.ts";
import { comparePrerelease, parseSemverLike } from "./semver-like.ts";

// NuGet "Package versioning" §Normalized version numbers: Major.Minor.Patch[.Revision], labels case-insensitive.
export function compareNuget(a: string, b: string): -1 | 0 | 1 {
  const x = parseSemverLike(a, 4);
  const y = parseSemverLike(b, 4);
  return (
    compareComponentLists(x.components, y.components) ||
    comparePrerelease(x.tail.toLowerCase(), y.tail.toLowerCase())
  );
}
