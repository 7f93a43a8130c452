/**
 * RPM versions per rpmvercmp (rpm/rpmio/rpmvercmp.c): [epoch:]version[-release], alternating digit and
 * letter segments, "~" sorts before everything (even the end) and "^" after the end but before more text.
 */
import { compareStrings, isDigitChar, isDigits, isLetterChar } from "./numeric.ts";

interface RpmVersion {
  epoch: string;
  version: string;
  release: string;
}

function parseRpm(input: string): RpmVersion {
  let epoch = "0";
  let rest = input;
  const colon = input.indexOf(":");
  if (colon !== -1 && isDigits(input.slice(0, colon))) {
    epoch = input.slice(0, colon);
    rest = input.slice(colon + 1);
  }
  const dash = rest.indexOf("-");
  if (dash === -1) return { epoch, version: rest, release: "" };
  return { epoch, version: rest.slice(0, dash), release: rest.slice(dash) };
}

function isSeparator(c: string): boolean {
  return !isLetterChar(c) && !isDigitChar(c) && c !== "~" && c !== "^";
}

/** rpmvercmp on one field. */
export function rpmvercmp(a: string, b: string): -1 | 0 | 1 {
  if (a === "" || b === "") return a === b ? 0 : a === "" ? -1 : 1;
  let i = 0;
  let j = 0;
  for (;;) {
    while (i < a.length && isSeparator(a[i]!)) i++;
    while (j < b.length && isSeparator(b[j]!)) j++;
    // rpmvercmp: "~" (pre-release) sorts before everything.
    const at = a[i] === "~";
    const bt = b[j] === "~";
    if (at || bt) {
      if (at && bt) {
        i++;
        j++;
        continue;
      }
      return at ? -1 : 1;
    }
    // rpmvercmp: "^" (post-release snapshot) sorts after the end of the other string, before anything else.
    const ac = a[i] === "^";
    const bc = b[j] === "^";
    if (ac || bc) {
      if (ac && bc) {
        i++;
        j++;
        continue;
      }
      if (ac) return j === b.length ? 1 : -1;
      return i === a.length ? -1 : 1;
    }
    if (i === a.length || j === b.length) break;
    const numeric = isDigitChar(a[i]);
    const same = numeric ? isDigitChar : isLetterChar;
    const si = i;
    while (i < a.length && same(a[i])) i++;
    const sj = j;
    while (j < b.length && same(b[j])) j++;
    // rpmvercmp: a numeric segment is newer than an alphabetic one.
    if (sj === j) return numeric ? 1 : -1;
    let sa = a.slice(si, i);
    let sb = b.slice(sj, j);
    if (numeric) {
      sa = sa.replace(/^0+/, "");
      sb = sb.replace(/^0+/, "");
      if (sa.length !== sb.length) return sa.length > sb.length ? 1 : -1;
    }
    const d = compareStrings(sa, sb);
    if (d !== 0) return d;
  }
  const ra = a.length - i;
  const rb = b.length - j;
  return ra > rb ? 1 : ra < rb ? -1 : 0;
}

export function compareRpm(a: string, b: string): -1 | 0 | 1 {
  const x = parseRpm(a);
  const y = parseRpm(b);
  return rpmvercmp(x.epoch, y.epoch) || rpmvercmp(x.version, y.version) || rpmvercmp(x.release, y.release);
}
