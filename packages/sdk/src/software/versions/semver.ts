/**
 * SemVer 2.0.0 ordering as used by npm, crates.io, Hex, and Go modules (a leading "v" is accepted, and Go
 * pseudo-versions such as v0.0.0-20210101000000-abcdef123456 order as ordinary pre-releases).
 */
import { memoize } from "./memo.ts";
import { compareComponentLists } from "./numeric.ts";
import { comparePrerelease, parseSemverLike } from "./semver-like.ts";

// SemVer 2.0.0 §2: MAJOR.MINOR.PATCH; anything after the third number is pre-release/build.
const parse = memoize((v: string) => parseSemverLike(v, 3));

export function compareSemver(a: string, b: string): -1 | 0 | 1 {
  const x = parse(a);
  const y = parse(b);
  // SemVer 2.0.0 §11.2: numeric comparison of the core.
  return compareComponentLists(x.components, y.components) || comparePrerelease(x.tail, y.tail);
}
