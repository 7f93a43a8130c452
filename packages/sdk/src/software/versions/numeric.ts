/** Helpers shared by the version schemes: exact comparison of arbitrarily long decimal numbers. */

const DIGITS = /^[0-9]+$/;
const SIGNED_DIGITS = /^[+-]?[0-9]+$/;

export function sign(n: number): -1 | 0 | 1 {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

export function isDigits(s: string): boolean {
  return DIGITS.test(s);
}

/** True for an optionally signed decimal integer (the shape that counts as "numeric" in most schemes). */
export function isInteger(s: string): boolean {
  return SIGNED_DIGITS.test(s);
}

export function isDigitChar(c: string | undefined): boolean {
  return c !== undefined && c >= "0" && c <= "9";
}

export function isLetterChar(c: string | undefined): boolean {
  return c !== undefined && ((c >= "A" && c <= "Z") || (c >= "a" && c <= "z"));
}

/** Compares two unsigned decimal digit strings of any length exactly (leading zeros ignored). */
export function compareDigits(a: string, b: string): -1 | 0 | 1 {
  let i = 0;
  while (i < a.length - 1 && a[i] === "0") i++;
  let j = 0;
  while (j < b.length - 1 && b[j] === "0") j++;
  const la = a.length - i;
  const lb = b.length - j;
  if (la !== lb) return la < lb ? -1 : 1;
  for (let k = 0; k < la; k++) {
    const ca = a.charCodeAt(i + k);
    const cb = b.charCodeAt(j + k);
    if (ca !== cb) return ca < cb ? -1 : 1;
  }
  return 0;
}

/** Compares two optionally signed decimal integers exactly. */
export function compareIntegers(a: string, b: string): -1 | 0 | 1 {
  const x = BigInt(a.startsWith("+") ? a.slice(1) : a);
  const y = BigInt(b.startsWith("+") ? b.slice(1) : b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Canonical decimal text (no leading zeros). */
export function canonicalDigits(s: string): string {
  const t = s.replace(/^0+(?=.)/, "");
  return t;
}

/** Plain code-unit string comparison. */
export function compareStrings(a: string, b: string): -1 | 0 | 1 {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Compares numeric component lists, missing components counting as 0. */
export function compareComponentLists(a: readonly string[], b: readonly string[]): -1 | 0 | 1 {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = compareDigits(a[i] ?? "0", b[i] ?? "0");
    if (d !== 0) return d;
  }
  return 0;
}
