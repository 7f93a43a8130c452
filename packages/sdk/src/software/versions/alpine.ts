/**
 * Alpine (apk) versions per apk-tools version.c: numbers[.numbers]*[letter][_suffix[N]]*[~hash][-rN].
 * Suffix order: _alpha < _beta < _pre < _rc < (none) < _cvs < _svn < _git < _hg < _p.
 * Strings that do not follow the grammar compare as plain text among themselves.
 */
import { compareDigits, compareStrings } from "./numeric.ts";

interface NumberPart {
  text: string;
  index: number;
}

interface Suffix {
  weight: number;
  number: string;
}

interface AlpineVersion {
  original: string;
  invalid: boolean;
  numbers: NumberPart[];
  letter: string;
  suffixes: Suffix[];
  build: string;
  remainder: string;
}

// apk-tools: pre-release suffixes sort before the bare version, post-release ones after it.
const SUFFIX_ORDER = ["alpha", "beta", "pre", "rc", "", "cvs", "svn", "git", "hg"];
const NO_SUFFIX: Suffix = { weight: 5, number: "0" };

function parseAlpine(input: string): AlpineVersion {
  const v: AlpineVersion = {
    original: input,
    invalid: false,
    numbers: [],
    letter: "",
    suffixes: [],
    build: "0",
    remainder: "",
  };
  let s = input;
  const head = /^(?:\d+\.?)*/.exec(s)![0];
  if (head !== "") {
    const parts = head.split(".");
    for (let i = 0; i < parts.length && parts[i] !== ""; i++) v.numbers.push({ text: parts[i]!, index: i });
    s = s.slice(head.length);
  }
  if (/^[a-z]/.test(s)) {
    v.letter = s[0]!;
    s = s.slice(1);
  }
  for (const m of s.matchAll(/_(alpha|beta|pre|rc|cvs|svn|git|hg|p)(\d*)/g)) {
    const w = SUFFIX_ORDER.indexOf(m[1]!);
    v.suffixes.push({ weight: w === -1 ? SUFFIX_ORDER.length : w, number: m[2] || "0" });
    if (s.startsWith(m[0])) s = s.slice(m[0].length);
  }
  const hash = /^~[0-9a-f]+/.exec(s);
  if (hash) s = s.slice(hash[0].length);
  if (s !== "") {
    const build = /^-r(\d*)/.exec(s);
    if (build === null) v.invalid = true;
    else {
      v.build = build[1] || "0";
      s = s.slice(build[0].length);
    }
  }
  v.remainder = s;
  return v;
}

// apk-tools: after the first number, a component with a leading zero compares as a string.
function compareNumber(a: NumberPart, b: NumberPart): -1 | 0 | 1 {
  if (a.index !== 0 && b.index !== 0 && (a.text[0] === "0" || b.text[0] === "0")) {
    return compareStrings(a.text, b.text);
  }
  return compareDigits(a.text, b.text);
}

function compareSuffix(a: Suffix, b: Suffix): -1 | 0 | 1 {
  if (a.weight !== b.weight) return a.weight > b.weight ? 1 : -1;
  return compareDigits(a.number, b.number);
}

export function compareAlpine(a: string, b: string): -1 | 0 | 1 {
  const x = parseAlpine(a);
  const y = parseAlpine(b);
  if (x.invalid && y.invalid) return compareStrings(x.original, y.original);
  const n = Math.max(x.numbers.length, y.numbers.length);
  for (let i = 0; i < n; i++) {
    const d = compareNumber(x.numbers[i] ?? { text: "0", index: 0 }, y.numbers[i] ?? { text: "0", index: 0 });
    if (d !== 0) return d;
  }
  if (x.letter !== y.letter) {
    if (x.letter === "" || y.letter === "") return x.letter === "" ? -1 : 1;
    return compareStrings(x.letter, y.letter);
  }
  const m = Math.max(x.suffixes.length, y.suffixes.length);
  for (let i = 0; i < m; i++) {
    const d = compareSuffix(x.suffixes[i] ?? NO_SUFFIX, y.suffixes[i] ?? NO_SUFFIX);
    if (d !== 0) return d;
  }
  const d = compareDigits(x.build, y.build);
  if (d !== 0) return d;
  if (x.remainder === "" && y.remainder !== "") return 1;
  if (x.remainder !== "" && y.remainder === "") return -1;
  return 0;
}
