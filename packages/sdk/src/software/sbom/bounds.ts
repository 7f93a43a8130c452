/**
 * Resource bounds checked before a document is fully parsed: a byte-size limit and a nesting-depth
 * limit found by a single pass over the JSON text (strings skipped), so a hostile document cannot make
 * JSON.parse or the schema validator recurse or allocate without bound.
 */
import { SoftwareError } from "../errors.ts";

export interface SbomLimits {
  /** Largest accepted document in bytes (default 64 MiB). */
  maxBytes?: number;
  /** Deepest accepted nesting of JSON objects/arrays (default 64). */
  maxDepth?: number;
  /** Most components (CycloneDX components and services, SPDX packages/files/snippets or elements; default 50,000). */
  maxComponents?: number;
}

export const DEFAULT_MAX_SBOM_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_SBOM_DEPTH = 64;
// Large container images list ~10,000 packages; 50,000 leaves room and bounds validation and matching.
export const DEFAULT_MAX_SBOM_COMPONENTS = 50_000;

export function checkSize(bytes: number, limits: SbomLimits, path: string | undefined): void {
  const max = limits.maxBytes ?? DEFAULT_MAX_SBOM_BYTES;
  if (bytes > max) {
    throw new SoftwareError("BW_ERR_SBOM_TOO_LARGE", `document is ${bytes} bytes, the limit is ${max}`, {
      path,
    });
  }
}

/** Returns the maximum nesting depth of the JSON text, stopping with an error as soon as it exceeds the limit. */
export function checkDepth(text: string, limits: SbomLimits, path: string | undefined): number {
  const max = limits.maxDepth ?? DEFAULT_MAX_SBOM_DEPTH;
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > max) {
          throw new SoftwareError("BW_ERR_SBOM_TOO_DEEP", `nesting deeper than ${max} levels`, {
            path,
            detail: `at character ${i}`,
          });
        }
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}

const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const members = (v: unknown): Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/** CycloneDX components and services, nested ones included (the depth is already bounded). */
function cyclonedxCount(items: unknown[]): number {
  let n = 0;
  for (const item of items) {
    const o = members(item);
    n += 1 + cyclonedxCount(list(o["components"])) + cyclonedxCount(list(o["services"]));
  }
  return n;
}

/**
 * Counts the document's components from the parsed JSON, before schema validation and
 * normalisation (whose work grows with it), and refuses more than the limit.
 */
export function checkComponentCount(
  doc: Record<string, unknown>,
  limits: SbomLimits,
  path: string | undefined,
): void {
  const max = limits.maxComponents ?? DEFAULT_MAX_SBOM_COMPONENTS;
  const count =
    cyclonedxCount(list(doc["components"])) +
    cyclonedxCount(list(doc["services"])) +
    list(doc["packages"]).length +
    list(doc["files"]).length +
    list(doc["snippets"]).length +
    list(doc["@graph"]).length;
  if (count > max) {
    throw new SoftwareError(
      "BW_ERR_SBOM_TOO_LARGE",
      `document has ${count} components, the limit is ${max}`,
      {
        path,
      },
    );
  }
}
