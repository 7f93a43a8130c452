import type { Readable } from "node:stream";
import { setImmediate as turn } from "node:timers/promises";
import { Worker } from "node:worker_threads";
import { constants } from "node:zlib";
import { BulwarkError } from "@bulwark/sdk/errors";
import {
  encodeSegmentHeader,
  SEGMENTED_DELTA,
  SEGMENTED_MAGIC,
  segmentCount,
  segmentLength,
  zstdSegmentParams,
} from "@bulwark/sdk/wire/delta";
import type { ArtifactStore, StoredObject } from "./artifact-store.ts";
import { AnchorIndex, AnchorScanner, anchorBits } from "./delta-anchors.ts";

/** The shape of a `zstd-seg` delta made with `layout` from a base of `baseLength` bytes. */
export function segmentedLayout(
  baseLength: number,
  layout: { segmentBytes: number; marginBytes: number } = SEGMENTED_DELTA,
): { segmentBytes: number; marginBytes: number; referenceBytes: number; windowLog: number } {
  const referenceBytes = Math.min(layout.segmentBytes + 2 * layout.marginBytes, baseLength);
  const { windowLog } = zstdSegmentParams(referenceBytes, layout.segmentBytes);
  return { ...layout, referenceBytes, windowLog };
}

/** Reads exactly `length` bytes of `stream` into one buffer of its own (transferable to a worker). */
async function readExactly(stream: Readable, length: number, what: string): Promise<Buffer> {
  const buffer = Buffer.allocUnsafeSlow(length);
  let at = 0;
  for await (const chunk of stream) {
    const c = chunk as Buffer;
    if (at + c.length > length)
      throw new BulwarkError("BW_ERR_INTERNAL", `stored ${what} longer than expected`);
    c.copy(buffer, at);
    at += c.length;
  }
  if (at !== length) throw new BulwarkError("BW_ERR_INTERNAL", `stored ${what} shorter than expected`);
  return buffer;
}

/** One worker thread compressing one segment at a time (`delta-segment-worker.ts`). */
class SegmentCompressor {
  readonly #worker = new Worker(new URL("./delta-segment-worker.ts", import.meta.url), { execArgv: [] });
  #waiting: { resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  #failed: Error | undefined;
  #next = 0;

  constructor() {
    const fail = (error: Error) => {
      this.#failed ??= error;
      this.#waiting?.reject(this.#failed);
      this.#waiting = undefined;
    };
    this.#worker.on("message", (m: { error?: string; frame?: Uint8Array }) => {
      const waiting = this.#waiting;
      this.#waiting = undefined;
      if (m.error !== undefined) waiting?.reject(new Error(`delta compression: ${m.error}`));
      else waiting?.resolve(Buffer.from(m.frame!.buffer, m.frame!.byteOffset, m.frame!.byteLength));
    });
    this.#worker.on("error", fail);
    this.#worker.on("exit", () => fail(new Error("the delta worker stopped")));
  }

  compress(reference: Buffer, data: Buffer, params: Record<number, number>): Promise<Buffer> {
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
      // Both buffers are this segment's own: handed over, not copied.
      const transfer = [data.buffer as ArrayBuffer];
      if (reference.length > 0) transfer.push(reference.buffer as ArrayBuffer);
      this.#worker.postMessage({ id: this.#next++, reference, data, params }, transfer);
    });
  }

  async close(): Promise<void> {
    this.#failed ??= new Error("closed");
    await this.#worker.terminate();
  }
}

/**
 * Segment `i`'s reference when its content moved by `drift` bytes from the base: the base from
 * `margin` before the moved segment to `margin` past it, clipped to the base (at most the segment
 * and twice the margin, as `segmentReference`, which is the case `drift` = 0).
 */
export function driftedReference(
  i: number,
  length: number,
  layout: { segmentBytes: number; marginBytes: number },
  drift: number,
  baseLength: number,
): { offset: number; length: number } {
  const at = i * layout.segmentBytes + drift;
  const clip = (n: number) => Math.min(Math.max(n, 0), baseLength);
  const start = clip(at - layout.marginBytes);
  const end = clip(at + length + layout.marginBytes);
  return { offset: start, length: Math.max(end - start, 0) };
}

/** The anchors of one segment (offsets in the new image), scanned 1 MiB at a time between turns of the event loop. */
async function anchorsOf(scanner: AnchorScanner, data: Buffer): Promise<{ offset: number; key: number }[]> {
  const anchors: { offset: number; key: number }[] = [];
  for (let at = 0; at < data.length; at += 1024 * 1024) {
    scanner.scan(data.subarray(at, at + 1024 * 1024), (offset, key) => anchors.push({ offset, key }));
    await turn();
  }
  return anchors;
}

/** The new image cut into segments of `segmentBytes` (the last one shorter), each its own buffer. */
async function* segmentsOf(stream: Readable, length: number, segmentBytes: number): AsyncGenerator<Buffer> {
  let segment = Buffer.allocUnsafeSlow(Math.min(segmentBytes, length));
  let at = 0;
  let total = 0;
  for await (const chunk of stream) {
    let c = chunk as Buffer;
    while (c.length > 0) {
      const n = Math.min(c.length, segment.length - at);
      c.copy(segment, at, 0, n);
      at += n;
      total += n;
      c = c.subarray(n);
      if (total > length) throw new BulwarkError("BW_ERR_INTERNAL", "stored image longer than recorded");
      if (at === segment.length) {
        yield segment;
        segment = Buffer.allocUnsafeSlow(Math.max(Math.min(segmentBytes, length - total), 1));
        at = 0;
      }
    }
  }
  if (total !== length) throw new BulwarkError("BW_ERR_INTERNAL", "stored image shorter than recorded");
}

/** Level 9 with the window and match tables sized for the reference, a checksum per frame (RFC 8878 §3.1.1). */
export const zstdCompressionParams = (
  windowLog: number,
  hashLog: number,
  chainLog = hashLog,
): Record<number, number> => ({
  [constants.ZSTD_c_compressionLevel]: 9,
  [constants.ZSTD_c_windowLog]: windowLog,
  [constants.ZSTD_c_hashLog]: hashLog,
  [constants.ZSTD_c_chainLog]: chainLog,
  [constants.ZSTD_c_checksumFlag]: 1,
});

/** What a background computation sees of a segmented delta as it goes (`delta-jobs.ts`). */
export interface SegmentProgress {
  /** Called after each segment's frame is out (awaited: the next segment waits for it). */
  onSegment?: (done: number, total: number) => Promise<void>;
  /** Stops before the next segment (the claim on the job was lost, or the server stops). */
  signal?: AbortSignal;
  /** Runs each segment's compression in its turn among the process's delta computations. */
  exclusive?: <T>(fn: () => Promise<T>) => Promise<T>;
}

/**
 * The bytes of the `zstd-seg` delta of `full` from `base` (`@bulwark/sdk/wire/delta`): the magic,
 * then per segment its header and a Zstandard frame (RFC 8878) of the segment with the segment's
 * reference of the base as raw-content dictionary (RFC 8878 §5). Memory: one segment, one
 * reference and one frame at a time, plus zstd's tables sized for a reference; never the images.
 */
export async function* segmentedDelta(
  artifacts: ArtifactStore,
  base: StoredObject,
  full: StoredObject,
  layout: { segmentBytes: number; marginBytes: number } = SEGMENTED_DELTA,
  progress: SegmentProgress = {},
): AsyncGenerator<Buffer> {
  const { segmentBytes, marginBytes, referenceBytes } = segmentedLayout(base.length, layout);
  const { windowLog, hashLog, chainLog } = zstdSegmentParams(referenceBytes, segmentBytes);
  const params = zstdCompressionParams(windowLog, hashLog, chainLog);
  // The base's anchors, indexed once (one more read of the base, streamed): where each
  // segment's content is in the base, so its reference follows content moved past the margin.
  const index = new AnchorIndex(anchorBits(segmentBytes));
  for await (const chunk of await artifacts.read(base.sha256)) index.add(chunk as Buffer);
  const scanner = new AnchorScanner(anchorBits(segmentBytes));
  const compressor = new SegmentCompressor();
  const source = await artifacts.read(full.sha256);
  try {
    yield Buffer.from(SEGMENTED_MAGIC);
    let i = 0;
    let drift = 0;
    const total = segmentCount(full.length, segmentBytes);
    for await (const data of segmentsOf(source, full.length, segmentBytes)) {
      progress.signal?.throwIfAborted();
      if (data.length !== segmentLength(i, full.length, segmentBytes))
        throw new BulwarkError("BW_ERR_INTERNAL", "segment length mismatch");
      // No anchor found (new content): the previous segment's drift, as content moves in runs.
      drift = index.drift(await anchorsOf(scanner, data)) ?? drift;
      const ref = driftedReference(i, data.length, { segmentBytes, marginBytes }, drift, base.length);
      const reference =
        ref.length > 0
          ? await readExactly(
              await artifacts.read(base.sha256, { start: ref.offset, end: ref.offset + ref.length - 1 }),
              ref.length,
              "base",
            )
          : Buffer.alloc(0);
      const compress = () => compressor.compress(reference, data, params);
      const frame = await (progress.exclusive ? progress.exclusive(compress) : compress());
      yield encodeSegmentHeader({
        referenceOffset: ref.offset,
        referenceLength: ref.length,
        frameLength: frame.length,
      });
      yield frame;
      i++;
      await progress.onSegment?.(i, total);
    }
    if (i !== total) throw new BulwarkError("BW_ERR_INTERNAL", "segment count mismatch");
  } finally {
    source.destroy();
    await compressor.close();
  }
}
