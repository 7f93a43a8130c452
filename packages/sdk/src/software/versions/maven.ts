/**
 * Maven versions per org.apache.maven.artifact.versioning.ComparableVersion: tokens split on "." and "-"
 * and on digit/letter transitions, well-known qualifiers ordered alpha < beta < milestone < rc < snapshot
 * < "" (release) < sp, trailing null tokens ("0", "", "final", "ga") trimmed.
 */
import { canonicalDigits, compareDigits, compareStrings, isDigitChar, isDigits } from "./numeric.ts";

interface Token {
  /** "" for the first token, else the separator before it ("-" also after a digit/letter transition). */
  prefix: string;
  value: string;
  /** A padding token standing in for a missing one. */
  isNull: boolean;
}

// ComparableVersion: qualifier order.
const QUALIFIERS = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];

function qualifierRank(q: string): number {
  const i = QUALIFIERS.indexOf(q);
  return i === -1 ? QUALIFIERS.length : i;
}

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  const pieces = input.split(/([-.])/);
  for (let i = 0; i < pieces.length; i += 2) {
    const piece = pieces[i]!;
    let prefix = i === 0 ? "" : pieces[i - 1]!;
    const cuts: number[] = [];
    for (let k = 1; k < piece.length; k++) {
      if (isDigitChar(piece[k - 1]) !== isDigitChar(piece[k])) cuts.push(k);
    }
    cuts.push(piece.length);
    let start = 0;
    cuts.forEach((cut, j) => {
      // ComparableVersion: a digit/letter transition acts as a "-" separator.
      if (j > 0) prefix = "-";
      let value = piece.slice(start, cut).toLowerCase();
      if (value === "") value = "0";
      if (value === "cr") value = "rc";
      if (value === "ga" || value === "final" || value === "release") value = "";
      if (cut !== piece.length) {
        // ComparableVersion: "a1", "b2", "m3" are alpha-1, beta-2, milestone-3 when followed by a number.
        if (value === "a") value = "alpha";
        else if (value === "b") value = "beta";
        else if (value === "m") value = "milestone";
      }
      if (isDigits(value)) value = canonicalDigits(value);
      tokens.push({ prefix, value, isNull: false });
      start = cut;
    });
  }
  // ComparableVersion: trailing "null" items of each list are removed.
  let i = tokens.length - 1;
  while (i > 0) {
    const t = tokens[i]!;
    if (t.value === "0" || t.value === "" || t.value === "final" || t.value === "ga") {
      tokens.splice(i, 1);
      i--;
      continue;
    }
    while (i >= 0 && tokens[i]!.prefix !== "-") i--;
    i--;
  }
  return tokens;
}

function nullFor(other: Token): Token {
  if (other.prefix === ".") return { prefix: ".", value: other.value === "sp" ? "" : "0", isNull: true };
  return { prefix: "-", value: "", isNull: true };
}

function separatorRank(t: Token): number {
  const numeric = isDigits(t.value);
  if (t.prefix === "-") return numeric ? 2 : 1;
  return numeric ? 3 : 0;
}

function tokenLess(v: Token, w: Token): boolean {
  if (v.prefix !== w.prefix) return separatorRank(v) < separatorRank(w);
  const vn = isDigits(v.value);
  const wn = isDigits(w.value);
  if (vn && wn) return compareDigits(v.value, w.value) < 0;
  // ComparableVersion IntItem vs StringItem: a number is newer than a qualifier.
  if (vn && !v.isNull) return false;
  if (wn && !w.isNull) return true;
  const rv = qualifierRank(v.value);
  const rw = qualifierRank(w.value);
  if (rv === QUALIFIERS.length && rw === QUALIFIERS.length) return compareStrings(v.value, w.value) < 0;
  return rv < rw;
}

function sameToken(a: Token, b: Token): boolean {
  return a.prefix === b.prefix && a.value === b.value;
}

export function compareMaven(a: string, b: string): -1 | 0 | 1 {
  const x = tokenize(a);
  const y = tokenize(b);
  const n = Math.max(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const left = x[i] ?? nullFor(y[i]!);
    const right = y[i] ?? nullFor(x[i]!);
    if (sameToken(left, right)) continue;
    return tokenLess(left, right) ? -1 : 1;
  }
  return 0;
}
