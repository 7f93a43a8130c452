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
 *
 * Format `zstd-seg` (images over the `zstd-dict` cap, e.g. a root filesystem): the target is cut
 * into fixed segments (`segmentBytes`), each a Zstandard frame of its own with, as dictionary, a
 * bounded *reference* of the base (at most `referenceBytes`; the server chooses its offset: where
 * the segment's content lies in the base ± a margin, else the same offset ± the margin). The
 * file is `SEGMENTED_MAGIC` then, per segment in order, a 16-byte header (reference offset u64,
 * reference length u32, frame length u32, big-endian) and the frame. Both sides hold one reference
 * and one segment at a time, whatever the image size. The format is versioned by `format`: an agent
 * that knows only `zstd-dict` finds no description it knows and never picks a `zstd-seg` delta.
 */

/** Per deployment: never, when the device's image matches a delta's base (else the full image), or only. */
export type DeltaPolicy = "off" | "prefer" | "require";
export const DELTA_POLICIES: readonly DeltaPolicy[] = ["off", "prefer", "require"];

export const DELTA_FORMAT = "zstd-dict";
export const SEGMENTED_DELTA_FORMAT = "zstd-seg";
export type DeltaFormat = typeof DELTA_FORMAT | typeof SEGMENTED_DELTA_FORMAT;
/** The formats this agent and server know, in the order they were introduced. */
export const DELTA_FORMATS: readonly DeltaFormat[] = [DELTA_FORMAT, SEGMENTED_DELTA_FORMAT];
/**
 * What the server takes an agent to apply when its metadata carries no `deltaFormats` (agents
 * before the advertisement, `wire/metadata.ts`): `zstd-dict`, the first format. An agent that knew
 * `zstd-seg` before it advertised is taken for one that does not (it is sent a `require`
 * deployment of a segmented delta once it advertises, i.e. once upgraded).
 */
export const UNADVERTISED_DELTA_FORMATS: readonly DeltaFormat[] = [DELTA_FORMAT];

export const DELTA_LIMITS = {
  /**
   * Largest window a device accepts (ZSTD_d_windowLogMax): 2^27 = 128 MiB, enough for a base and
   * a new image of 64 MiB each (the dictionary is only usable within the window).
   */
  maxWindowLog: 27,
  /** Largest base or new image deltas are made for, bounded by the window above. */
  maxImageBytes: 64 * 1024 * 1024,
  /** `zstd-seg`: the largest segment a device accepts (one segment is held rebuilt in memory). */
  maxSegmentBytes: 16 * 1024 * 1024,
  /** `zstd-seg`: the largest reference of the base a device accepts (held as one segment's dictionary). */
  maxReferenceBytes: 48 * 1024 * 1024,
} as const;

/** What the server makes a `zstd-seg` delta with: 8 MiB segments, references of the segment ± 8 MiB. */
export const SEGMENTED_DELTA = {
  segmentBytes: 8 * 1024 * 1024,
  marginBytes: 8 * 1024 * 1024,
} as const;

/** The first bytes of a `zstd-seg` delta file. */
export const SEGMENTED_MAGIC = Buffer.from("BWZSEG1\n", "latin1");
/** Each segment's header: reference offset (u64), reference length (u32), frame length (u32), big-endian. */
export const SEGMENT_HEADER_BYTES = 16;

export interface SegmentHeader {
  /** Where the segment's reference starts in the base, and its length (0: no reference). */
  referenceOffset: number;
  referenceLength: number;
  /** The length of the Zstandard frame that follows. */
  frameLength: number;
}

export function encodeSegmentHeader(h: SegmentHeader): Buffer {
  const b = Buffer.alloc(SEGMENT_HEADER_BYTES);
  b.writeBigUInt64BE(BigInt(h.referenceOffset), 0);
  b.writeUInt32BE(h.referenceLength, 8);
  b.writeUInt32BE(h.frameLength, 12);
  return b;
}

export function decodeSegmentHeader(b: Buffer): SegmentHeader {
  const offset = b.readBigUInt64BE(0);
  if (offset > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError("segment reference offset out of range");
  return {
    referenceOffset: Number(offset),
    referenceLength: b.readUInt32BE(8),
    frameLength: b.readUInt32BE(12),
  };
}

/** How many segments of `segmentBytes` a target of `length` bytes has, and segment `i`'s length. */
export function segmentCount(length: number, segmentBytes: number): number {
  return Math.ceil(length / segmentBytes);
}
export function segmentLength(i: number, length: number, segmentBytes: number): number {
  return Math.min(segmentBytes, length - i * segmentBytes);
}

/**
 * The reference of segment `i` when its content did not move: the base from `margin` before the segment's own offset to
 * `margin` past its end, clipped to the base (so an insertion or deletion of up to `margin` bytes
 * before it still finds the old bytes in its reference).
 */
export function segmentReference(
  i: number,
  segmentBytes: number,
  marginBytes: number,
  baseLength: number,
): { offset: number; length: number } {
  const start = Math.min(Math.max(i * segmentBytes - marginBytes, 0), baseLength);
  const end = Math.min((i + 1) * segmentBytes + marginBytes, baseLength);
  return { offset: start, length: Math.max(end - start, 0) };
}

/** What `custom.delta` of a delta target holds. */
export interface DeltaCustom {
  format: DeltaFormat;
  /** The image the delta applies to: the device's current image must have this SHA-256. */
  base: { sha256: string; length: number; version: string };
  /** The full target it reconstructs (a target path of the same release) and its signed identity. */
  target: { path: string; length: number; sha256: string };
  /** The Zstandard window log the frame needs (≤ `DELTA_LIMITS.maxWindowLog`). */
  windowLog: number;
  /** `zstd-seg` only: the segment size, and the largest reference of any segment. */
  segmentBytes?: number;
  referenceBytes?: number;
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
  if (typeof d !== "object" || d === null || !DELTA_FORMATS.includes(d.format as DeltaFormat))
    return undefined;
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
    Number.isSafeInteger(d.windowLog) &&
    (d.format !== SEGMENTED_DELTA_FORMAT ||
      (Number.isSafeInteger(d.segmentBytes) &&
        (d.segmentBytes as number) > 0 &&
        Number.isSafeInteger(d.referenceBytes) &&
        (d.referenceBytes as number) >= 0));
  return ok ? (d as unknown as DeltaCustom) : undefined;
}

/**
 * Zstandard parameters for a delta of an image of `newLength` bytes from one of `baseLength`:
 * a window covering base and new image (the dictionary is only referenced inside it), and a hash
 * table of at least one entry per base byte, so every position of the base can be found again
 * after a change (measured: with tables of 2^24 entries a 64 MiB base is indexed only in part and
 * the delta of a small change is 31 MB instead of 0.3 MB; with half an entry per byte, a 1 MiB
 * random base patched in 46 bytes gave 135,323 bytes instead of 4,260 in about half the runs, a
 * whole 128 KiB block after the patch left unmatched). The chain table can be a quarter of that
 * (2^20 / 2^18 for 1 MiB: the 4,260 bytes in 8 runs of 8). LDM is left off: with a dictionary it
 * does not index the dictionary (measured, no gain).
 */
export function zstdDeltaParams(
  baseLength: number,
  newLength: number,
): { windowLog: number; hashLog: number; chainLog: number } {
  const log2 = (n: number) => Math.ceil(Math.log2(Math.max(n, 2)));
  const hashLog = Math.min(Math.max(log2(baseLength), 16), 26);
  return {
    windowLog: Math.min(Math.max(log2(baseLength + newLength), 20), DELTA_LIMITS.maxWindowLog),
    hashLog,
    chainLog: Math.max(hashLog - 2, 16),
  };
}

/**
 * Zstandard parameters for one `zstd-seg` segment with a reference of `referenceBytes`: a window
 * covering reference and segment, and hash and chain tables of about a quarter entry per reference
 * byte (measured on a real binary, 24 MiB reference, 8 MiB segment: 2^22 entries or more find
 * every match, 2^21 lose most of them; 2^24 as `zstdDeltaParams` would give costs twice the time
 * and 128 MiB of tables for the same delta). At least 2^18: with 2^16 for the tests' 192 KiB
 * references the shifted bytes were no longer found (160 KB instead of under 48 KB).
 */
export function zstdSegmentParams(
  referenceBytes: number,
  segmentBytes: number,
): { windowLog: number; hashLog: number } {
  const log2 = (n: number) => Math.ceil(Math.log2(Math.max(n, 2)));
  return {
    windowLog: Math.min(Math.max(log2(referenceBytes + segmentBytes), 20), DELTA_LIMITS.maxWindowLog),
    hashLog: Math.min(Math.max(log2(referenceBytes) - 2, 18), 26),
  };
}
