/**
 * SemVer 2.0.0 ordering as used by npm, crates.io, Hex, and Go modules (a leading "v" is accepted, and Go
 * pseudo-versions such as v0.0.0-20210101000000-abcdef123456 order as ordinary pre-releases).
 */
import { memoize } from "./memo.ts";
import { canonicalDigits, compareComponentLists, isInteger } from "./numeric.ts";
import { comparePrerelease, parseSemverLike } from "./semver-like.ts";

// SemVer 2.0.0 §2: MAJOR.MINOR.PATCH; anything after the third number is pre-release/build.
const parse = memoize((v: string) => parseSemverLike(v, 3));

export function compareSemver(a: string, b: string): -1 | 0 | 1 {
  const x = parse(a);
  const y = parse(b);
  // SemVer 2.0.0 §11.2: numeric comparison of the core.
  return compareComponentLists(x.components, y.components) || comparePrerelease(x.tail, y.tail);
}

/**
 * A text equal for two versions exactly when compareSemver says they are equal: the numeric core with
 * leading and trailing zeros dropped (missing components count as 0), then the pre-release identifiers
 * with numeric ones in canonical form; build metadata left out (SemVer 2.0.0 §10). "v4.2.10" → "4.2.10".
 */
export const semverKey = memoize((v: string): string => {
  const { components, tail } = parse(v);
  const core = components.map(canonicalDigits);
  while (core.length > 0 && core[core.length - 1] === "0") core.pop();
  let pre = tail.split("+")[0]!;
  if (pre.startsWith("-")) pre = pre.slice(1);
  const ids = pre === "" ? "" : pre.split(".").map((id) => (isInteger(id) ? BigInt(id).toString() : id));
  return `${core.join(".")}${ids === "" ? "" : `-${ids.join(".")}`}`;
});
