/**
 * The segmented delta compressor's thread (`delta-segmented.ts`): each `segment` message (a
 * reference of the base, a segment of the new image, Zstandard parameters) is answered by `frame`
 * (the segment compressed with the reference as dictionary) or `error`. Building the tables of a
 * reference of tens of MiB is synchronous, so it runs here, off the server's event loop.
 */
import { parentPort } from "node:worker_threads";
import { zstdCompressSync } from "node:zlib";

interface SegmentMessage {
  id: number;
  reference: Uint8Array;
  data: Uint8Array;
  params: Record<number, number>;
}

const port = parentPort!;
const view = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

port.on("message", (m: SegmentMessage) => {
  try {
    const frame = zstdCompressSync(view(m.data), {
      ...(m.reference.byteLength > 0 ? { dictionary: view(m.reference) } : {}),
      params: m.params,
    });
    // Copied, not transferred: the frame's memory may belong to zlib (not transferable); it is small.
    port.postMessage({ id: m.id, frame });
  } catch (error) {
    port.postMessage({ id: m.id, error: (error as Error).message });
  }
});
