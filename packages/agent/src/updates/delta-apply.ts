import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, readFile, rename, rm, stat } from "node:fs/promises";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { constants, createZstdDecompress, type ZstdDecompress } from "node:zlib";
import { DELTA_LIMITS } from "@bulwark/sdk/wire/delta";

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
    const mismatch = algorithms.find((a, i) => hashes[i]!.digest("hex") !== spec.hashes[a]);
    if (mismatch)
      throw new DeltaRefused(`the rebuilt image's ${mismatch} does not match the full target's signed one`);
    await file.sync();
    await file.close();
    await rename(part, spec.dest);
  } catch (error) {
    await file.close().catch(() => undefined);
    await rm(part, { force: true });
    throw error;
  }
}
