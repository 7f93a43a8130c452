import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";

/** Reads a known-answer vector file from `test/data/kat/` (see its README for sources and licences). */
export function readKat<T>(path: string): T {
  const bytes = readFileSync(new URL(`data/kat/${path}`, import.meta.url));
  return JSON.parse((path.endsWith(".gz") ? gunzipSync(bytes) : bytes).toString("utf8")) as T;
}

export const hex = (s: string): Buffer => Buffer.from(s, "hex");
