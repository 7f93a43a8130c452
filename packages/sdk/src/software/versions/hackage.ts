/** Hackage (Haskell PVP) versions: any number of numeric components, longer wins on a common prefix. */
import { SoftwareError } from "../errors.ts";
import { compareComponentLists } from "./numeric.ts";
import { parseSemverLike } from "./semver-like.ts";

function parseHackage(v: string): string[] {
  const p = parseSemverLike(v, -1);
  // Haskell PVP / Cabal: versions are dot-separated numbers only (tags are deprecated).
  if (p.tail !== "") {
    throw new SoftwareError(
      "BW_ERR_VERSION_INVALID",
      `Hackage version ${JSON.stringify(v)} has a non-numeric part`,
    );
  }
  return p.components;
}

// Cabal Data.Version ordering: lexicographic over the number list, so 1.0 < 1.0.0.
export function compareHackage(a: string, b: string): -1 | 0 | 1 {
  const x = parseHackage(a);
  const y = parseHackage(b);
  const d = compareComponentLists(x, y);
  if (d !== 0) return d;
  return x.length > y.length ? 1 : x.length < y.length ? -1 : 0;
}
