import { Readable } from "node:stream";
import { Worker } from "node:worker_threads";
import { BulwarkError } from "@bulwark/sdk/errors";
import {
  DELTA_FORMAT,
  DELTA_LIMITS,
  type DeltaFormat,
  SEGMENTED_DELTA_FORMAT,
  zstdDeltaParams,
} from "@bulwark/sdk/wire/delta";
import type { ArtifactStore, StoredObject } from "./artifact-store.ts";
import { type SegmentProgress, segmentedDelta, zstdCompressionParams } from "./delta-segmented.ts";

/** The largest images each format is made for (`--delta-max-image-bytes`, `--delta-max-segmented-bytes`). */
export interface DeltaCaps {
  /** `zstd-dict` (the base held whole): at most `DELTA_LIMITS.maxImageBytes`; 0 for none. */
  maxImageBytes: number;
  /** `zstd-seg` (bounded memory) for images over the cap above; 0 for none. */
  maxSegmentedImageBytes: number;
}

async function readAll(stream: Readable, length: number): Promise<Buffer> {
  // Its own ArrayBuffer (never a pooled slice): it is handed over to the worker, not copied.
  const buffer = Buffer.allocUnsafeSlow(length);
  let at = 0;
  for await (const chunk of stream) {
    const c = chunk as Buffer;
    if (at + c.length > length) throw new BulwarkError("BW_ERR_INTERNAL", "stored base longer than recorded");
    c.copy(buffer, at);
    at += c.length;
  }
  if (at !== length) throw new BulwarkError("BW_ERR_INTERNAL", "stored base shorter than recorded");
  return buffer;
}

/**
 * Compresses `source` with `dictionary` on a worker thread (`delta-worker.ts`), one chunk in
 * flight at a time; the compressed bytes come out of the returned stream. Destroying the stream
 * stops the worker.
 */
function compressOnWorker(dictionary: Buffer, params: Record<number, number>, source: Readable): Readable {
  const worker = new Worker(new URL("./delta-worker.ts", import.meta.url), { execArgv: [] });
  let drained: (() => void) | undefined;
  let finished = false;
  const output = new Readable({
    read() {},
    destroy(error, callback) {
      source.destroy();
      void worker.terminate().then(() => callback(error));
    },
  });
  const fail = (error: Error) => {
    if (!output.destroyed) output.destroy(error);
    drained?.(); // the feeding loop below sees the stream destroyed and stops
  };
  worker.on("message", (m: { type: string; chunk?: Uint8Array; message?: string }) => {
    if (m.type === "out") output.push(Buffer.from(m.chunk!.buffer, m.chunk!.byteOffset, m.chunk!.byteLength));
    else if (m.type === "drained") drained?.();
    else if (m.type === "done") {
      finished = true;
      output.push(null);
      void worker.terminate();
    } else if (m.type === "error") fail(new Error(`delta compression: ${m.message}`));
  });
  worker.on("error", fail);
  worker.on("exit", () => {
    if (!finished) fail(new Error("the delta worker stopped"));
  });
  worker.postMessage({ type: "start", dictionary, params }, [dictionary.buffer as ArrayBuffer]);
  void (async () => {
    for await (const chunk of source) {
      if (output.destroyed) return;
      const done = new Promise<void>((resolve) => {
        drained = resolve;
      });
      worker.postMessage({ type: "data", chunk });
      await done;
    }
    if (!output.destroyed) worker.postMessage({ type: "end" });
  })().catch(fail);
  return output;
}

/** One delta computation at a time in this process: the memory bound below holds for the process. */
let running: Promise<unknown> = Promise.resolve();
function oneAtATime<T>(fn: () => Promise<T>): Promise<T> {
  const next = running.then(fn, fn);
  running = next.catch(() => undefined);
  return next;
}

/**
 * The format a delta of `full` from `base` is made in: `zstd-dict` when both fit its cap (devices
 * in the field know it), else `zstd-seg` when both fit the segmented cap, else none (the reason).
 */
export function deltaFormatFor(
  base: StoredObject,
  full: StoredObject,
  caps: DeltaCaps,
): DeltaFormat | { skipped: string } {
  const dict = Math.min(caps.maxImageBytes, DELTA_LIMITS.maxImageBytes);
  const largest = Math.max(base.length, full.length);
  if (largest <= dict) return DELTA_FORMAT;
  if (largest <= caps.maxSegmentedImageBytes) return SEGMENTED_DELTA_FORMAT;
  return caps.maxSegmentedImageBytes > 0
    ? {
        skipped: `an image is over the segmented delta cap of ${caps.maxSegmentedImageBytes} bytes (--delta-max-segmented-bytes)`,
      }
    : { skipped: `an image is over the delta cap of ${dict} bytes (--delta-max-image-bytes)` };
}

/**
 * Computes the delta of `full` from `base` in the format `deltaFormatFor` picks and stores it
 * content-addressed. `zstd-dict` (RFC 8878, the base as dictionary): Memory: the base is held once as the dictionary, plus zstd's hash
 * table (4 × 2^hashLog bytes, 2^hashLog ≥ the base's length) and chain table (a quarter of it) and its window; the new image streams, one chunk at a
 * time. Compression (and building the dictionary's tables) runs on a worker thread, so the event
 * loop is not blocked. `zstd-seg` (`delta-segmented.ts`): one segment and one reference of the
 * base at a time, whatever the image size. Skipped (with the reason) when either image is over the caps, or when the
 * delta would not be smaller than the full image (the store refuses it past `full.length - 1`
 * bytes, so a useless delta is never written whole). One compression runs at a time per process
 * (publishes of several products queue here; a segmented delta queues per segment), so these
 * bounds are the process's.
 */
export function makeDelta(
  artifacts: ArtifactStore,
  base: StoredObject,
  full: StoredObject,
  caps: DeltaCaps,
  progress: SegmentProgress = {},
): Promise<{ delta: StoredObject; format: DeltaFormat } | { skipped: string }> {
  // A segmented delta (minutes, in the background) takes its turn per segment, so a publish's
  // `zstd-dict` delta waits for one segment at most, not for the whole image.
  if (deltaFormatFor(base, full, caps) === SEGMENTED_DELTA_FORMAT)
    return computeDelta(artifacts, base, full, caps, { ...progress, exclusive: oneAtATime });
  return oneAtATime(() => computeDelta(artifacts, base, full, caps, progress));
}

async function computeDelta(
  artifacts: ArtifactStore,
  base: StoredObject,
  full: StoredObject,
  caps: DeltaCaps,
  progress: SegmentProgress,
): Promise<{ delta: StoredObject; format: DeltaFormat } | { skipped: string }> {
  progress.signal?.throwIfAborted();
  const format = deltaFormatFor(base, full, caps);
  if (typeof format === "object") return format;
  if (full.length < 2) return { skipped: "the image is too small for a delta" };
  if (format === SEGMENTED_DELTA_FORMAT) {
    // The segmented format (bounded memory): one segment, its reference and its frame at a time.
    const stream = Readable.from(segmentedDelta(artifacts, base, full, undefined, progress));
    return storeDelta(artifacts, stream, full, format);
  }
  const dictionary = await readAll(await artifacts.read(base.sha256), base.length);
  const { windowLog, hashLog, chainLog } = zstdDeltaParams(base.length, full.length);
  const params = zstdCompressionParams(windowLog, hashLog, chainLog);
  return storeDelta(
    artifacts,
    compressOnWorker(dictionary, params, await artifacts.read(full.sha256)),
    full,
    format,
  );
}

/** Stores a delta's bytes; a delta not smaller than the full image is refused before it is whole. */
async function storeDelta(
  artifacts: ArtifactStore,
  compressed: Readable,
  full: StoredObject,
  format: DeltaFormat,
): Promise<{ delta: StoredObject; format: DeltaFormat } | { skipped: string }> {
  try {
    return { delta: await artifacts.put(compressed, full.length - 1), format };
  } catch (error) {
    compressed.destroy();
    if (error instanceof BulwarkError && error.code === "BW_ERR_PAYLOAD_TOO_LARGE")
      return { skipped: "the delta would not be smaller than the full image" };
    throw error;
  }
}
