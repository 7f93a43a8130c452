import { Readable } from "node:stream";
import { Worker } from "node:worker_threads";
import { constants } from "node:zlib";
import { BulwarkError } from "@bulwark/sdk/errors";
import { DELTA_LIMITS, zstdDeltaParams } from "@bulwark/sdk/wire/delta";
import type { ArtifactStore, StoredObject } from "./artifact-store.ts";

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
 * Computes the `zstd-dict` delta of `full` from `base` (RFC 8878, the base as dictionary) and
 * stores it content-addressed. Memory: the base is held once as the dictionary, plus zstd's hash
 * and chain tables (2 × 4 × 2^hashLog bytes) and its window; the new image streams, one chunk at a
 * time. Compression (and building the dictionary's tables) runs on a worker thread, so the event
 * loop is not blocked. Skipped (with the reason) when either image is over the cap, or when the
 * delta would not be smaller than the full image (the store refuses it past `full.length - 1`
 * bytes, so a useless delta is never written whole). One computation runs at a time per process
 * (publishes of several products queue here), so these bounds are the process's.
 */
export function makeDelta(
  artifacts: ArtifactStore,
  base: StoredObject,
  full: StoredObject,
  maxImageBytes: number,
): Promise<{ delta: StoredObject } | { skipped: string }> {
  return oneAtATime(() => computeDelta(artifacts, base, full, maxImageBytes));
}

async function computeDelta(
  artifacts: ArtifactStore,
  base: StoredObject,
  full: StoredObject,
  maxImageBytes: number,
): Promise<{ delta: StoredObject } | { skipped: string }> {
  const cap = Math.min(maxImageBytes, DELTA_LIMITS.maxImageBytes);
  if (base.length > cap || full.length > cap)
    return { skipped: `an image is over the delta cap of ${cap} bytes (--delta-max-image-bytes)` };
  if (full.length < 2) return { skipped: "the image is too small for a delta" };
  const dictionary = await readAll(await artifacts.read(base.sha256), base.length);
  const { windowLog, hashLog } = zstdDeltaParams(base.length, full.length);
  const params = {
    [constants.ZSTD_c_compressionLevel]: 9,
    [constants.ZSTD_c_windowLog]: windowLog,
    [constants.ZSTD_c_hashLog]: hashLog,
    [constants.ZSTD_c_chainLog]: hashLog,
    [constants.ZSTD_c_checksumFlag]: 1,
  };
  const compressed = compressOnWorker(dictionary, params, await artifacts.read(full.sha256));
  try {
    return { delta: await artifacts.put(compressed, full.length - 1) };
  } catch (error) {
    compressed.destroy();
    if (error instanceof BulwarkError && error.code === "BW_ERR_PAYLOAD_TOO_LARGE")
      return { skipped: "the delta would not be smaller than the full image" };
    throw error;
  }
}
