/**
 * RubyGems versions per Gem::Version: segments split on "." and digit/letter transitions; a segment
 * with letters marks a pre-release; trailing zero segments are dropped before comparison.
 */
import { compareDigits, compareStrings, isDigitChar, isDigits } from "./numeric.ts";

function segments(input: string): string[] {
  let canon = "";
  let seen = false;
  let prevDigit = true;
  for (const c of input) {
    if (c === ".") {
      seen = false;
      canon += ".";
      continue;
    }
    const digit = isDigitChar(c);
    if (seen && prevDigit !== digit) canon += ".";
    canon += c;
    prevDigit = digit;
    seen = true;
  }
  const numbers: string[] = [];
  const rest: string[] = [];
  for (const s of canon.split(".")) {
    if (rest.length > 0 || !isDigits(s)) rest.push(s);
    else numbers.push(s);
  }
  // Gem::Version#canonical_segments: drop trailing zeros of the release and the pre-release part.
  return [...dropTrailingZeros(numbers), ...dropTrailingZeros(rest)];
}

function dropTrailingZeros(s: string[]): string[] {
  let end = s.length;
  while (end > 0 && s[end - 1] === "0") end--;
  return s.slice(0, end);
}

// Gem::Version#<=>: numbers compare numerically, strings lexically, a number beats a string.
export function compareRubygems(a: string, b: string): -1 | 0 | 1 {
  const x = segments(a);
  const y = segments(b);
  const n = Math.max(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const p = x[i] ?? "0";
    const q = y[i] ?? "0";
    const pn = isDigits(p);
    const qn = isDigits(q);
    const d = pn && qn ? compareDigits(p, q) : !pn && !qn ? compareStrings(p, q) : pn ? 1 : -1;
    if (d !== 0) return d;
  }
  return 0;
}
