import { createHash } from "node:crypto";

/**
 * File names of a TUF repository, relative to the metadata base URL (`/tuf/{productId}/`) and the
 * targets base URL (`/tuf/{productId}/targets/`). TUF spec §5.3.3 (VERSION.root.json), §5.4.1
 * (timestamp.json), §6.2 "Consistent snapshots" (VERSION.ROLE.json, HASH.FILENAME.EXT).
 */

/** §5.3.3: root metadata is always fetched by version, "42.root.json". */
export function rootFileName(version: number): string {
  return `${version}.root.json`;
}

export const TIMESTAMP_FILE = "timestamp.json";

/**
 * §5.5.1 / §5.6.1: "ROLE.json", or "VERSION.ROLE.json" with consistent snapshots. A delegated
 * role's name is URI-encoded as tuf-js and python-tuf do, so a name never escapes the folder.
 */
export function roleFileName(role: string, version: number | undefined): string {
  const name = `${encodeURIComponent(role)}.json`;
  return version === undefined ? name : `${version}.${name}`;
}

/**
 * §5.7.3 / §6.2: a target "dir/name" is served as "dir/HASH.name" under consistent snapshots
 * (one name per listed hash), else as itself.
 */
export function targetFileNames(path: string, hashes: Record<string, string>, consistent: boolean): string[] {
  if (!consistent) return [path];
  const slash = path.lastIndexOf("/");
  const dir = path.slice(0, slash + 1);
  const base = path.slice(slash + 1);
  return Object.values(hashes).map((hash) => `${dir}${hash}.${base}`);
}

/** Whether `path` matches a PATHPATTERN (§4.5 "paths"): shell-style `*` and `?`, never across "/". */
export function matchesPathPattern(path: string, pattern: string): boolean {
  const pathParts = path.split("/");
  const patternParts = pattern.split("/");
  if (pathParts.length !== patternParts.length) return false;
  return patternParts.every((part, i) => globSegment(part).test(pathParts[i] as string));
}

function globSegment(part: string): RegExp {
  const body = [...part]
    .map((c) => (c === "*" ? "[^/]*" : c === "?" ? "[^/]" : c.replace(/[\\^$.|+()[\]{}]/g, "\\$&")))
    .join("");
  return new RegExp(`^${body}$`, "s");
}

/** §4.5 "path_hash_prefixes": whether the SHA-256 hex of `path` starts with one of `prefixes`. */
export function matchesHashPrefix(path: string, prefixes: string[]): boolean {
  const digest = createHash("sha256").update(path, "utf8").digest("hex");
  return prefixes.some((prefix) => digest.startsWith(prefix));
}
