/** CRAN (R package_version) versions: numbers separated by "." or "-", longer wins on a common prefix. */
import { SoftwareError } from "../errors.ts";
import { compareComponentLists, isInteger } from "./numeric.ts";

function parseCran(v: string): string[] {
  if (v === "") return [];
  // R "numeric_version": at least two non-negative integers separated by single '.' or '-'.
  const parts = v.replaceAll("-", ".").split(".");
  for (const p of parts) {
    if (!isInteger(p) || p.startsWith("-")) {
      throw new SoftwareError("BW_ERR_VERSION_INVALID", `CRAN version ${JSON.stringify(v)} is not numeric`);
    }
  }
  return parts.map((p) => p.replace(/^\+/, ""));
}

export function compareCran(a: string, b: string): -1 | 0 | 1 {
  const x = parseCran(a);
  const y = parseCran(b);
  const d = compareComponentLists(x, y);
  if (d !== 0) return d;
  return x.length > y.length ? 1 : x.length < y.length ? -1 : 0;
}
