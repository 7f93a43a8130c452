import { createHash, getHashes, timingSafeEqual } from "node:crypto";
import { TufError } from "./errors.ts";
import type { MetaFile } from "./metadata.ts";

/** The hash algorithms we write into METAFILES and TARGETS entries (§4.4, §4.5 HASHES). */
export const WRITTEN_HASHES = ["sha256", "sha512"] as const;

/** HASHES of `bytes`: `{ sha256: hex, sha512: hex }`. */
export function hashesOf(bytes: Uint8Array): Record<string, string> {
  return Object.fromEntries(WRITTEN_HASHES.map((alg) => [alg, createHash(alg).update(bytes).digest("hex")]));
}

/** A METAFILES entry (§4.4 / §4.6) describing `bytes` at `version`, with length and hashes. */
export function metaFileOf(bytes: Uint8Array, version: number): MetaFile {
  return { version, length: bytes.length, hashes: hashesOf(bytes) };
}

/**
 * Check `bytes` against a trusted role's listing (§5.5.2, §5.6.2, §5.7.3: mix-and-match): the
 * length, if listed, must be exact, and EVERY listed hash must match; a hash algorithm we cannot
 * compute fails rather than being skipped, so a listing is never weaker than it looks.
 */
export function checkLengthAndHashes(
  bytes: Uint8Array,
  expected: { length?: number; hashes?: Record<string, string> },
  what: string,
): void {
  if (expected.length !== undefined && bytes.length !== expected.length) {
    throw new TufError("TUF_MISMATCH", `${what}: length ${bytes.length}, listed ${expected.length}`);
  }
  for (const [algorithm, digest] of Object.entries(expected.hashes ?? {})) {
    if (!getHashes().includes(algorithm)) {
      throw new TufError("TUF_MISMATCH", `${what}: unsupported hash algorithm ${algorithm}`);
    }
    const actual = createHash(algorithm).update(bytes).digest();
    const listed = Buffer.from(digest, "hex");
    if (actual.length !== listed.length || !timingSafeEqual(actual, listed)) {
      throw new TufError("TUF_MISMATCH", `${what}: ${algorithm} hash does not match`);
    }
  }
}
