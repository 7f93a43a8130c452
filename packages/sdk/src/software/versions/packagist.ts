/**
 * Packagist (Composer) versions per PHP version_compare(): separators "-", "_", "+" become ".", a "."
 * is inserted at digit/non-digit boundaries, and special words order dev < alpha < beta < RC < # < pl.
 */
import { compareIntegers, isInteger } from "./numeric.ts";

function canonical(input: string): string[] {
  let v = input.startsWith("v") ? input.slice(1) : input;
  if (v.startsWith("V")) v = v.slice(1);
  v = v.replace(/[-_+]/g, ".");
  v = v.replace(/([^\d.])(\d)/g, "$1.$2").replace(/(\d)([^\d.])/g, "$1.$2");
  return v.split(".");
}

// php-src ext/standard/versioning.c: special forms "dev", "alpha"/"a", "beta"/"b", "RC"/"rc", "#", "pl"/"p".
function weight(s: string): number {
  if (s.startsWith("RC")) return 3;
  const specials = ["dev", "a", "b", "rc", "#", "p"];
  const i = specials.findIndex((p) => s.startsWith(p));
  return i === -1 ? 0 : i;
}

function compareSpecial(a: string, b: string): -1 | 0 | 1 {
  const x = weight(a);
  const y = weight(b);
  return x > y ? 1 : x < y ? -1 : 0;
}

const INT64_MAX = 9223372036854775807n;

function isMachineInt(s: string): boolean {
  if (!isInteger(s)) return false;
  const n = BigInt(s.startsWith("+") ? s.slice(1) : s);
  return n <= INT64_MAX && n >= -INT64_MAX - 1n;
}

function compareParts(a: string[], b: string[]): -1 | 0 | 1 {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const p = a[i]!;
    const q = b[i]!;
    const pn = isInteger(p);
    const qn = isInteger(q);
    let d: -1 | 0 | 1;
    if (pn && qn) d = compareIntegers(p, q);
    else if (!pn && !qn) d = compareSpecial(p, q);
    // version_compare: a number in place of a special form compares as "#".
    else d = pn ? compareSpecial("#", q) : compareSpecial(p, "#");
    if (d !== 0) return d;
  }
  if (a.length > b.length) return isMachineInt(a[b.length]!) ? 1 : compareParts(a.slice(b.length), ["#"]);
  if (a.length < b.length) return isMachineInt(b[a.length]!) ? -1 : compareParts(["#"], b.slice(a.length));
  return 0;
}

export function comparePackagist(a: string, b: string): -1 | 0 | 1 {
  return compareParts(canonical(a), canonical(b));
}
