import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { type FileHandle, open, readFile, rename, rm, stat } from "node:fs/promises";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { constants, createZstdDecompress, type ZstdDecompress, zstdDecompress } from "node:zlib";
import {
  DELTA_FORMAT,
  DELTA_LIMITS,
  type DeltaFormat,
  decodeSegmentHeader,
  SEGMENT_HEADER_BYTES,
  SEGMENTED_DELTA_FORMAT,
  SEGMENTED_MAGIC,
  segmentCount,
  segmentLength,
} from "@bulwark/sdk/wire/delta";

const decompressAsync = promisify(zstdDecompress);

/**
 * The delta formats `applyDelta` applies. The agent advertises them in its metadata
 * (`deltaFormats`, `wire/metadata.ts`) so that the server sends a deployment requiring a delta only
 * to devices that can apply the release's format (issue #15 item 10). A format added here must be
 * applied below; one the SDK parses but this list lacks is never advertised.
 */
export const APPLICABLE_DELTA_FORMATS: readonly DeltaFormat[] = [DELTA_FORMAT, SEGMENTED_DELTA_FORMAT];

/** A delta the device will not install from; the message is the reason reported. */
export class DeltaRefused extends Error {}

export interface DeltaApplySpec {
  /** The downloaded delta (already checked against its own signed length and hashes). */
  delta: string;
  /** The device's current image, the delta's base (its SHA-256 was checked against `custom.delta.base`). */
  base: string;
  /** Where the reconstructed image goes; `{dest}.part` while it is written. */
  dest: string;
  /** The full target's signed length and hashes (TUF spec §5.7.3): what the result must be. */
  length: number;
  hashes: Record<string, string>;
  /** Largest Zstandard window accepted (ZSTD_d_windowLogMax; default `DELTA_LIMITS.maxWindowLog`). */
  maxWindowLog?: number;
  /**
   * The delta's signed format (`custom.delta`); absent: `zstd-dict`. For `zstd-seg`, its signed
   * segment size and largest reference, checked by `checkDelta` against the device's limits.
   */
  format?: { format: "zstd-dict" } | { format: "zstd-seg"; segmentBytes: number; referenceBytes: number };
}

const ALGORITHMS = ["sha256", "sha512"];

/** SHA-256 (hex) of a file, streamed; undefined when it does not exist. */
export async function fileSha256(path: string): Promise<string | undefined> {
  try {
    if (!(await stat(path)).isFile()) return undefined;
  } catch {
    return undefined;
  }
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * A decompressor with the base as dictionary. zstd keeps its own copy of the dictionary, so the
 * file's bytes read here become garbage once this returns (one copy of the base held, not two).
 */
async function decompressorFor(base: string, maxWindowLog: number): Promise<ZstdDecompress> {
  return createZstdDecompress({
    // Output in 1 MiB pieces (default 16 KiB): one write and one hash update per MiB.
    chunkSize: 1024 * 1024,
    dictionary: await readFile(base),
    params: { [constants.ZSTD_d_windowLogMax]: maxWindowLog },
  });
}

/**
 * Rebuilds the full image from the device's current image and a `zstd-dict` delta (RFC 8878, the
 * base as dictionary), streaming: the delta is read and the result written and hashed chunk by
 * chunk; only the base is held in memory (as the dictionary) plus zstd's window (at most
 * 2^maxWindowLog bytes). The result must be exactly the full target's signed length and hashes
 * (TUF spec §5.7.3) before it is renamed into `dest`: output past the length stops at once (a delta
 * cannot inflate without bound), and on any refusal nothing is left behind.
 */
export async function applyDelta(spec: DeltaApplySpec): Promise<void> {
  const algorithms = ALGORITHMS.filter((a) => spec.hashes[a]);
  if (!algorithms.includes("sha256")) throw new DeltaRefused("the full target lists no SHA-256");
  const format = spec.format;
  if (format?.format === SEGMENTED_DELTA_FORMAT) return applySegmented(spec, format, algorithms);
  const part = `${spec.dest}.part`;
  const decompress = await decompressorFor(spec.base, spec.maxWindowLog ?? DELTA_LIMITS.maxWindowLog);
  const hashes = algorithms.map((a) => createHash(a));
  let written = 0;
  const file = await open(part, "w", 0o600);
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      written += chunk.length;
      if (written > spec.length) {
        done(new DeltaRefused(`the delta rebuilds more than the full target's signed ${spec.length} bytes`));
        return;
      }
      for (const h of hashes) h.update(chunk);
      file.write(chunk).then(() => done(), done);
    },
  });
  try {
    try {
      await pipeline(createReadStream(spec.delta), decompress, sink);
    } catch (error) {
      if (error instanceof DeltaRefused) throw error;
      throw new DeltaRefused(`the delta does not decode against this image: ${(error as Error).message}`);
    }
    if (written !== spec.length)
      throw new DeltaRefused(`the delta rebuilds ${written} bytes, the full target has ${spec.length}`);
    await keepIfSigned(spec, part, file, algorithms, hashes);
  } catch (error) {
    await discard(part, file);
    throw error;
  }
}

/** The rebuilt image goes into `dest` only if it has the full target's signed hashes (TUF spec §5.7.3). */
async function keepIfSigned(
  spec: DeltaApplySpec,
  part: string,
  file: FileHandle,
  algorithms: string[],
  hashes: ReturnType<typeof createHash>[],
): Promise<void> {
  const mismatch = algorithms.find((a, i) => hashes[i]!.digest("hex") !== spec.hashes[a]);
  if (mismatch)
    throw new DeltaRefused(`the rebuilt image's ${mismatch} does not match the full target's signed one`);
  await file.sync();
  await file.close();
  await rename(part, spec.dest);
}

/** On any refusal nothing is left behind. */
async function discard(part: string, file: FileHandle): Promise<void> {
  await file.close().catch(() => undefined);
  await rm(part, { force: true });
}

/** Reads exactly `buffer.length` bytes at `position` (or the current position), else refuses. */
async function readFully(
  file: FileHandle,
  buffer: Buffer,
  position: number | null,
  what: string,
): Promise<void> {
  let at = 0;
  while (at < buffer.length) {
    const { bytesRead } = await file.read(
      buffer,
      at,
      buffer.length - at,
      position === null ? null : position + at,
    );
    if (bytesRead === 0) throw new DeltaRefused(`the delta ends inside ${what}`);
    at += bytesRead;
  }
}

/**
 * Rebuilds the full image from a `zstd-seg` delta (`@bulwark/sdk/wire/delta`), one segment at a
 * time: each segment's reference is read from the base at the offset its header names (inside the
 * base, at most the signed `referenceBytes`), its frame decoded with that reference as dictionary
 * (RFC 8878 §5) into exactly the segment's length (more is refused while decoding), then hashed and
 * written. Memory: one reference, one frame and one segment, whatever the image size. The number
 * and lengths of the segments follow from the full target's signed length, bytes after the last
 * segment are refused, and the result must match the full target's signed hashes (TUF spec
 * §5.7.3) before it is renamed into `dest`; on any refusal nothing is left behind.
 */
async function applySegmented(
  spec: DeltaApplySpec,
  layout: { segmentBytes: number; referenceBytes: number },
  algorithms: string[],
): Promise<void> {
  const { segmentBytes, referenceBytes } = layout;
  if (segmentBytes < 1 || segmentBytes > DELTA_LIMITS.maxSegmentBytes)
    throw new DeltaRefused(`the delta's ${segmentBytes}-byte segments are over this device's limit`);
  if (referenceBytes < 0 || referenceBytes > DELTA_LIMITS.maxReferenceBytes)
    throw new DeltaRefused(`the delta's ${referenceBytes}-byte references are over this device's limit`);
  const maxWindowLog = spec.maxWindowLog ?? DELTA_LIMITS.maxWindowLog;
  // A frame never needs to be much larger than its segment (RFC 8878: raw blocks cost 3 bytes per 128 KiB).
  const maxFrame = segmentBytes + (segmentBytes >> 7) + 4096;
  const part = `${spec.dest}.part`;
  const hashes = algorithms.map((a) => createHash(a));
  const delta = await open(spec.delta, "r");
  const base = await open(spec.base, "r");
  const file = await open(part, "w", 0o600);
  try {
    const baseLength = (await base.stat()).size;
    const magic = Buffer.alloc(SEGMENTED_MAGIC.length);
    await readFully(delta, magic, null, "its header");
    if (!magic.equals(SEGMENTED_MAGIC)) throw new DeltaRefused("the delta is not a zstd-seg delta");
    const header = Buffer.alloc(SEGMENT_HEADER_BYTES);
    const reference = Buffer.allocUnsafe(Math.min(referenceBytes, baseLength));
    const frame = Buffer.allocUnsafe(maxFrame);
    const count = segmentCount(spec.length, segmentBytes);
    for (let i = 0; i < count; i++) {
      await readFully(delta, header, null, `segment ${i}'s header`);
      let h: ReturnType<typeof decodeSegmentHeader>;
      try {
        h = decodeSegmentHeader(header);
      } catch (error) {
        throw new DeltaRefused(`segment ${i}'s header is invalid: ${(error as Error).message}`);
      }
      if (h.referenceLength > reference.length || h.referenceOffset + h.referenceLength > baseLength)
        throw new DeltaRefused(
          `segment ${i}'s reference is outside this device's image or over the signed size`,
        );
      if (h.frameLength > maxFrame)
        throw new DeltaRefused(`segment ${i}'s frame is larger than a segment can need`);
      const ref = reference.subarray(0, h.referenceLength);
      const data = frame.subarray(0, h.frameLength);
      await readFully(base, ref, h.referenceOffset, `segment ${i}'s reference`);
      await readFully(delta, data, null, `segment ${i}'s frame`);
      const expected = segmentLength(i, spec.length, segmentBytes);
      let out: Buffer;
      try {
        out = await decompressAsync(data, {
          ...(ref.length > 0 ? { dictionary: ref } : {}),
          maxOutputLength: expected,
          params: { [constants.ZSTD_d_windowLogMax]: maxWindowLog },
        });
      } catch (error) {
        const e = error as NodeJS.ErrnoException;
        if (e.code === "ERR_BUFFER_TOO_LARGE")
          throw new DeltaRefused(`segment ${i} rebuilds more than its ${expected} bytes of the full target`);
        throw new DeltaRefused(`segment ${i} does not decode against this image: ${e.message}`);
      }
      if (out.length !== expected)
        throw new DeltaRefused(
          `segment ${i} rebuilds ${out.length} bytes, the full target has ${expected} there`,
        );
      for (const hash of hashes) hash.update(out);
      await file.write(out);
    }
    const { bytesRead } = await delta.read(Buffer.alloc(1), 0, 1, null);
    if (bytesRead !== 0) throw new DeltaRefused("the delta goes on past the full target's signed length");
    await keepIfSigned(spec, part, file, algorithms, hashes);
  } catch (error) {
    await discard(part, file);
    throw error;
  } finally {
    await delta.close();
    await base.close();
  }
}
