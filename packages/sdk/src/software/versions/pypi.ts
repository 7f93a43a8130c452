/**
 * PyPI versions per PEP 440, with the pre-PEP 440 "legacy" fallback (setuptools LegacyVersion) for strings
 * that do not match the PEP 440 grammar; legacy versions sort before every valid version.
 */
import { memoize } from "./memo.ts";
import {
  canonicalDigits,
  compareComponentLists,
  compareDigits,
  compareStrings,
  isDigitChar,
  isDigits,
} from "./numeric.ts";

// PEP 440 §Appendix B: the canonical version-parsing regular expression (case-insensitive, surrounding space).
const PEP440 =
  /^\s*v?(?:(?:([0-9]+)!)?([0-9]+(?:\.[0-9]+)*)([-_.]?(a|b|c|rc|alpha|beta|pre|preview)[-_.]?([0-9]+)?)?((?:-([0-9]+))|(?:[-_.]?(post|rev|r)[-_.]?([0-9]+)?))?([-_.]?(dev)[-_.]?([0-9]+)?)?)(?:\+([a-z0-9]+(?:[-_.][a-z0-9]+)*))?\s*$/;

interface Tag {
  label: string;
  number: string;
}

export interface Pep440Version {
  kind: "pep440";
  epoch: string;
  release: string[];
  pre: Tag | undefined;
  post: Tag | undefined;
  dev: Tag | undefined;
  local: string[];
}

export interface LegacyPyVersion {
  kind: "legacy";
  parts: string[];
}

export type PyVersion = Pep440Version | LegacyPyVersion;

// PEP 440 §Pre-release spelling / §Post-release spelling: alternative spellings normalise.
function tag(label: string | undefined, number: string | undefined): Tag | undefined {
  if (label !== undefined && label !== "") {
    const spelled: Record<string, string> = {
      alpha: "a",
      beta: "b",
      c: "rc",
      pre: "rc",
      preview: "rc",
      rev: "post",
      r: "post",
    };
    return { label: spelled[label] ?? label, number: number === undefined || number === "" ? "0" : number };
  }
  // PEP 440 §Implicit post release number: "1.0-1" means 1.0.post1.
  if (number !== undefined && number !== "") return { label: "post", number };
  return undefined;
}

export function parsePypiVersion(input: string): PyVersion {
  const s = input.toLowerCase();
  const m = PEP440.exec(s);
  if (m === null) return { kind: "legacy", parts: legacyParts(s) };
  return {
    kind: "pep440",
    epoch: m[1] ?? "0",
    release: m[2]!.split("."),
    pre: tag(m[4], m[5]),
    post: tag(m[8], m[7] ?? m[9]),
    dev: tag(m[11], m[12]),
    // PEP 440 §Local version identifiers: "-" and "_" normalise to ".".
    local: m[13] === undefined ? [] : m[13].split(/[-_.]/),
  };
}

/** PEP 440 §Normalization: the canonical text of a version (legacy versions are returned lower-cased). */
export const normalizePypiVersion: (input: string) => string = memoize(normalizeUncached);

function normalizeUncached(input: string): string {
  const v = parsePypiVersion(input);
  if (v.kind === "legacy") return input.trim().toLowerCase();
  let out = v.epoch.replace(/^0+(?=.)/, "") === "0" ? "" : `${v.epoch.replace(/^0+(?=.)/, "")}!`;
  out += v.release.map((r) => r.replace(/^0+(?=.)/, "")).join(".");
  if (v.pre) out += `${v.pre.label}${v.pre.number.replace(/^0+(?=.)/, "")}`;
  if (v.post) out += `.post${v.post.number.replace(/^0+(?=.)/, "")}`;
  if (v.dev) out += `.dev${v.dev.number.replace(/^0+(?=.)/, "")}`;
  if (v.local.length > 0) out += `+${v.local.join(".")}`;
  return out;
}

// setuptools (pre-PEP 440) parse_version: zero-padded numbers, "*"-prefixed words, trailing zeros dropped.
function legacyParts(s: string): string[] {
  const parts: string[] = [];
  const pieces = [...(s.match(/\d+|[a-z]+|\.|-/g) ?? []), "final"];
  for (const raw of pieces) {
    if (raw === "" || raw === ".") continue;
    const part = legacyPart(raw);
    if (part.startsWith("*")) {
      if (part < "*final") {
        while (parts.length > 0 && parts[parts.length - 1] === "*final-") parts.pop();
      }
      while (parts.length > 0 && parts[parts.length - 1] === "00000000") parts.pop();
    }
    parts.push(part);
  }
  return parts;
}

function legacyPart(raw: string): string {
  const replaced: Record<string, string> = { pre: "c", preview: "c", "-": "final-", rc: "c", dev: "@" };
  const part = replaced[raw] ?? raw;
  return isDigitChar(part[0]) ? part.padStart(8, "0") : `*${part}`;
}

// PEP 440 §Summary of permitted suffixes and relative ordering: .devN < aN < bN < rcN < release < .postN.
function comparePre(x: Pep440Version, y: Pep440Version): -1 | 0 | 1 {
  // A dev release without pre/post sorts before any pre-release of the same release.
  const xd = x.pre === undefined && x.post === undefined && x.dev !== undefined;
  const yd = y.pre === undefined && y.post === undefined && y.dev !== undefined;
  if (xd || yd) return xd && yd ? 0 : xd ? -1 : 1;
  if (x.pre === undefined || y.pre === undefined) return x.pre === y.pre ? 0 : x.pre === undefined ? 1 : -1;
  return compareStrings(x.pre.label[0]!, y.pre.label[0]!) || compareDigits(x.pre.number, y.pre.number);
}

function compareOptional(x: Tag | undefined, y: Tag | undefined, absentIsHigh: boolean): -1 | 0 | 1 {
  if (x === undefined && y === undefined) return 0;
  if (x === undefined) return absentIsHigh ? 1 : -1;
  if (y === undefined) return absentIsHigh ? -1 : 1;
  return compareDigits(x.number, y.number);
}

// PEP 440 §Local version identifiers: segment-wise, numeric > alphanumeric, longer wins on a common prefix.
function compareLocal(a: string[], b: string[]): -1 | 0 | 1 {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const p = a[i]!;
    const q = b[i]!;
    const pn = isDigits(p);
    const qn = isDigits(q);
    const d = pn && qn ? compareDigits(p, q) : !pn && !qn ? compareStrings(p, q) : pn ? 1 : -1;
    if (d !== 0) return d;
  }
  return a.length > b.length ? 1 : a.length < b.length ? -1 : 0;
}

export function comparePypiParsed(x: PyVersion, y: PyVersion): -1 | 0 | 1 {
  if (x.kind === "legacy" || y.kind === "legacy") {
    if (x.kind === "legacy" && y.kind === "legacy") return compareStrings(x.parts.join(""), y.parts.join(""));
    return x.kind === "legacy" ? -1 : 1;
  }
  return (
    compareDigits(x.epoch, y.epoch) ||
    compareComponentLists(x.release, y.release) ||
    comparePre(x, y) ||
    compareOptional(x.post, y.post, false) ||
    compareOptional(x.dev, y.dev, true) ||
    compareLocal(x.local, y.local)
  );
}

const parseCached = memoize(parsePypiVersion);

export function comparePypi(a: string, b: string): -1 | 0 | 1 {
  return comparePypiParsed(parseCached(a), parseCached(b));
}

/**
 * A text equal for two versions exactly when comparePypi says they are equal (PEP 440 §Version
 * matching: release segments compare with zero padding, so "1.0" = "1.0.0"; pre-release spellings and
 * number forms normalise). Legacy versions keep their setuptools parts.
 */
export const pypiKey = memoize((input: string): string => {
  const v = parseCached(input);
  if (v.kind === "legacy") return `legacy:${v.parts.join("")}`;
  const release = v.release.map(canonicalDigits);
  while (release.length > 1 && release[release.length - 1] === "0") release.pop();
  const num = (t: { number: string } | undefined, label: string) =>
    t === undefined ? "" : `${label}${canonicalDigits(t.number)}`;
  const local = v.local.map((l) => (isDigits(l) ? canonicalDigits(l) : l)).join(".");
  return (
    `${canonicalDigits(v.epoch)}!${release.join(".")}` +
    `${v.pre ? num(v.pre, v.pre.label[0]!) : ""}${num(v.post, ".post")}${num(v.dev, ".dev")}` +
    `${local === "" ? "" : `+${local}`}`
  );
});
