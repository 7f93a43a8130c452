/**
 * The delta compressor's thread (`delta.ts`): creating a Zstandard compressor with a large
 * dictionary builds its tables synchronously (measured: 94 ms for a 32 MiB base), so it runs here,
 * off the server's event loop. Messages: `start` (dictionary, parameters), `data` (a chunk of the
 * new image, answered by `drained` once compressed), `end`; it answers `out` chunks, then `done`,
 * or `error`.
 */
import { parentPort } from "node:worker_threads";
import { createZstdCompress, type ZstdCompress } from "node:zlib";

type Message =
  | { type: "start"; dictionary: Uint8Array; params: Record<number, number> }
  | { type: "data"; chunk: Uint8Array }
  | { type: "end" };

const port = parentPort!;
let compress: ZstdCompress | undefined;

port.on("message", (m: Message) => {
  if (m.type === "start") {
    compress = createZstdCompress({
      dictionary: Buffer.from(m.dictionary.buffer, m.dictionary.byteOffset, m.dictionary.byteLength),
      params: m.params,
    });
    compress.on("data", (chunk: Buffer) => port.postMessage({ type: "out", chunk }));
    compress.on("end", () => port.postMessage({ type: "done" }));
    compress.on("error", (error) => port.postMessage({ type: "error", message: error.message }));
  } else if (m.type === "data") compress!.write(m.chunk, () => port.postMessage({ type: "drained" }));
  else compress!.end();
});
