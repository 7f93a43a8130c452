/**
 * Binary delta updates (issue #15 item 10): what the server publishes and the agent reads. A delta
 * is a TUF target of its own (signed like every target, TUF spec §4.5: length, SHA-256, SHA-512)
 * whose `custom.delta` names the image it applies to (`base`, by SHA-256) and the full target it
 * reconstructs (`target`, with that target's length and SHA-256). The device checks the result
 * against the full target's own signed length and hashes before installing anything.
 *
 * Format `zstd-dict`: a Zstandard frame (RFC 8878) of the new image compressed with the base
 * image as a raw-content dictionary (RFC 8878 §5: a dictionary's content is usable as history
 * for matches), so unchanged regions cost a few bytes per match. Both sides stream; the base is
 * held in memory as the dictionary, so deltas are bounded by image size (see `DELTA_LIMITS`).
 */

/** Per deployment: never, when the device's image matches a delta's base (else the full image), or only. */
export type DeltaPolicy = "off" | "prefer" | "require";
export const DELTA_POLICIES: readonly DeltaPolicy[] = ["off", "prefer", "require"];

export const DELTA_FORMAT = "zstd-dict";

export const DELTA_LIMITS = {
  /**
   * Largest window a device accepts (ZSTD_d_windowLogMax): 2^27 = 128 MiB, enough for a base and
   * a new image of 64 MiB each (the dictionary is only usable within the window).
   */
  maxWindowLog: 27,
  /** Largest base or new image deltas are made for, bounded by the window above. */
  maxImageBytes: 64 * 1024 * 1024,
} as const;

/** What `custom.delta` of a delta target holds. */
export interface DeltaCustom {
  format: typeof DELTA_FORMAT;
  /** The image the delta applies to: the device's current image must have this SHA-256. */
  base: { sha256: string; length: number; version: string };
  /** The full target it reconstructs (a target path of the same release) and its signed identity. */
  target: { path: string; length: number; sha256: string };
  /** The Zstandard window log the frame needs (≤ `DELTA_LIMITS.maxWindowLog`). */
  windowLog: number;
}

const SHA256 = /^[0-9a-f]{64}$/;

/**
 * The delta target path for `fullPath` from the image with SHA-256 `baseSha256`: the full target's
 * last segment + `.from-{base sha256}.zst`, in the same `{component}/{version}/` directory (so the
 * component's delegation `{component}/*\/*` covers it). A device finds a delta for its own image by
 * asking TUF for this path; a miss means there is none.
 */
export function deltaTargetPath(fullPath: string, baseSha256: string): string {
  return `${fullPath}.from-${baseSha256}.zst`;
}

/** Reads `custom.delta` of a signed target (untrusted shape until checked); undefined if it is not one. */
export function parseDeltaCustom(custom: Record<string, unknown> | undefined): DeltaCustom | undefined {
  const d = custom?.delta as Record<string, unknown> | undefined;
  if (typeof d !== "object" || d === null || d.format !== DELTA_FORMAT) return undefined;
  const base = d.base as Record<string, unknown> | undefined;
  const target = d.target as Record<string, unknown> | undefined;
  const ok =
    typeof base === "object" &&
    base !== null &&
    typeof base.sha256 === "string" &&
    SHA256.test(base.sha256) &&
    Number.isSafeInteger(base.length) &&
    typeof base.version === "string" &&
    typeof target === "object" &&
    target !== null &&
    typeof target.path === "string" &&
    typeof target.sha256 === "string" &&
    SHA256.test(target.sha256) &&
    Number.isSafeInteger(target.length) &&
    Number.isSafeInteger(d.windowLog);
  return ok ? (d as unknown as DeltaCustom) : undefined;
}

/**
 * Zstandard parameters for a delta of an image of `newLength` bytes from one of `baseLength`:
 * a window covering base and new image (the dictionary is only referenced inside it), and hash
 * and chain tables large enough to index the whole base (measured: with tables of 2^24 entries a
 * 64 MiB base is indexed only in part and the delta of a small change is 31 MB instead of 0.3 MB).
 * LDM is left off: with a dictionary it does not index the dictionary (measured, no gain).
 */
export function zstdDeltaParams(
  baseLength: number,
  newLength: number,
): { windowLog: number; hashLog: number } {
  const log2 = (n: number) => Math.ceil(Math.log2(Math.max(n, 2)));
  return {
    windowLog: Math.min(Math.max(log2(baseLength + newLength), 20), DELTA_LIMITS.maxWindowLog),
    hashLog: Math.min(Math.max(log2(baseLength) - 1, 16), 26),
  };
}
