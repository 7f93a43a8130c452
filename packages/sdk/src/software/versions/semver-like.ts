/**
 * The "semver-like" reading shared by SemVer, NuGet, Pub and Hackage: leading numeric dot-separated
 * components, then everything from the first other character on is the pre-release/build tail.
 */
import { compareIntegers, compareStrings, isDigitChar, isInteger } from "./numeric.ts";

export interface SemverLike {
  components: string[];
  /** Everything after the numeric core, e.g. "-beta.1+build"; extra components become ".N" parts. */
  tail: string;
}

/** Splits a version into its numeric core and tail; `maxComponents` (-1 = no limit) caps the core. */
export function parseSemverLike(input: string, maxComponents: number): SemverLike {
  const line = input.startsWith("v") ? input.slice(1) : input;
  const components: string[] = [];
  let current = "";
  let tail = "";
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (isDigitChar(c)) {
      current += c;
      continue;
    }
    if (current !== "") {
      components.push(current.replace(/^0+(?=.)/, ""));
      current = "";
    }
    if (c === ".") continue;
    tail = line.slice(i);
    break;
  }
  if (tail === "" && current !== "") components.push(current.replace(/^0+(?=.)/, ""));
  if (maxComponents === -1 || components.length <= maxComponents) return { components, tail };
  const extra = components.slice(maxComponents);
  return { components: components.slice(0, maxComponents), tail: tail + extra.map((c) => `.${c}`).join("") };
}

/**
 * SemVer 2.0.0 §11: pre-release precedence. Build metadata (after "+") is ignored, a version without a
 * pre-release ranks above one with it, identifiers compare numerically or in ASCII order, numeric < alphanumeric.
 */
export function comparePrerelease(a: string, b: string): -1 | 0 | 1 {
  let x = a.split("+")[0]!;
  let y = b.split("+")[0]!;
  if (x.startsWith("-")) x = x.slice(1);
  if (y.startsWith("-")) y = y.slice(1);
  if (x === "" && y !== "") return 1;
  if (x !== "" && y === "") return -1;
  return compareIdentifierLists(x.split("."), y.split("."));
}

function compareIdentifierLists(a: string[], b: string[]): -1 | 0 | 1 {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const p = a[i]!;
    const q = b[i]!;
    const pn = isInteger(p);
    const qn = isInteger(q);
    let d: -1 | 0 | 1;
    if (pn && qn) d = compareIntegers(p, q);
    else if (!pn && !qn) d = compareStrings(p, q);
    else d = pn ? -1 : 1;
    if (d !== 0) return d;
  }
  return a.length > b.length ? 1 : a.length < b.length ? -1 : 0;
}
