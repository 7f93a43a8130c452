/** Dart Pub versions: SemVer 2.0.0, except that build metadata ("+N") does order (pub_semver). */
import { compareComponentLists, compareStrings } from "./numeric.ts";
import { comparePrerelease, parseSemverLike } from "./semver-like.ts";

function buildPart(tail: string): string {
  const i = tail.indexOf("+");
  return i === -1 ? "" : tail.slice(i + 1);
}

// pub_semver Version.compareTo: pre-release first, then the build suffix breaks ties.
export function comparePub(a: string, b: string): -1 | 0 | 1 {
  const x = parseSemverLike(a, 3);
  const y = parseSemverLike(b, 3);
  return (
    compareComponentLists(x.components, y.components) ||
    comparePrerelease(x.tail, y.tail) ||
    compareStrings(buildPart(x.tail), buildPart(y.tail))
  );
}
