/**
 * Parsing of untrusted documents off the event loop. Validating a large SBOM or reading a KEV
 * catalogue or an OSV bundle is CPU work in one synchronous stretch; on the main thread it stalls
 * every other request (issue #13: a 20,050-component SBOM held `/healthz` for 15.9 s). The server
 * runs it on a small pool of worker threads, each with a heap limit, so a hostile document costs a
 * worker, never the process. Tests and tools may parse in place (`inlineParser`).
 */
import { MessageChannel, type MessagePort } from "node:worker_threads";
import { BulwarkError } from "@bulwark/sdk/errors";
import { SoftwareError } from "@bulwark/sdk/software/errors";
import type { BundleLimits } from "@bulwark/sdk/software/osv/bundle";
import Tinypool from "tinypool";
import { type OsvBatch, osvBatchesFromPort, osvBatchesInline } from "./osv-stream.ts";
import { deserializeError, type ParseTask, type ParseValue, runTask, type TaskOutcome } from "./tasks.ts";
import type { WorkerTask } from "./worker.ts";

export interface DocumentParser {
  parse<T extends ParseTask>(task: T): Promise<ParseValue<T>>;
  /** The records of an OSV directory / zip / tar(.gz), in batches, each naming its unevaluable records. */
  osvBatches(path: string, limits?: BundleLimits): AsyncIterable<OsvBatch>;
  close(): Promise<void>;
}

/** Parses on the calling thread (tests, command-line tools). */
export const inlineParser: DocumentParser = {
  parse: runTask,
  osvBatches: osvBatchesInline,
  close: async () => {},
};

export interface WorkerParserOptions {
  /** Worker threads (default 1: uploads are few, and the process keeps a core for the API). */
  threads?: number;
  /** Tasks waiting for a worker before further ones are refused with 503 (default 16). */
  maxQueue?: number;
  /** Old-generation heap of each worker in MiB (default 1024); a document needing more fails alone. */
  heapMb?: number;
}

/** What a worker that died (heap limit, crash) means for the input it was reading. */
function workerDied(kind: WorkerTask["kind"], cause: unknown): Error {
  const why = `parsing stopped: ${(cause as Error)?.message ?? String(cause)}`;
  switch (kind) {
    case "sbom":
      return new SoftwareError(
        "BW_ERR_SBOM_TOO_LARGE",
        `the SBOM could not be parsed within the limits (${why})`,
      );
    case "kev":
      return new SoftwareError("BW_ERR_KEV_INVALID", `the KEV catalogue could not be read (${why})`);
    case "generate":
      return new SoftwareError("BW_ERR_LOCKFILE_INVALID", `the input could not be read (${why})`);
    case "osv":
      return new SoftwareError("BW_ERR_OSV_TOO_LARGE", `the OSV bundle could not be read (${why})`);
    default: {
      const never: never = kind;
      throw new Error(`unreachable task kind ${String(never)}`);
    }
  }
}

export class WorkerParser implements DocumentParser {
  readonly #pool: Tinypool;
  readonly #maxQueue: number;

  constructor(options: WorkerParserOptions = {}) {
    this.#maxQueue = options.maxQueue ?? 16;
    this.#pool = new Tinypool({
      filename: new URL("./worker.ts", import.meta.url).href,
      minThreads: 0,
      maxThreads: options.threads ?? 1,
      idleTimeout: 60_000,
      maxQueue: this.#maxQueue,
      // Process-wide V8 flags of the parent (npm start's heap tuning) are not valid in a worker.
      execArgv: [],
      resourceLimits: { maxOldGenerationSizeMb: options.heapMb ?? 1024 },
    });
  }

  async #run(task: WorkerTask, transferList?: MessagePort[]): Promise<unknown> {
    if (this.#pool.queueSize >= this.#maxQueue)
      throw new BulwarkError("BW_ERR_UNAVAILABLE", "too many documents are being parsed; try again shortly");
    try {
      // Tinypool's transferList type is inferred from the DOM's postMessage overloads; a port is transferable.
      const options = { transferList } as unknown as Parameters<Tinypool["run"]>[1];
      return await this.#pool.run(task, transferList ? options : {});
    } catch (error) {
      throw workerDied(task.kind, error);
    }
  }

  async parse<T extends ParseTask>(task: T): Promise<ParseValue<T>> {
    const outcome = (await this.#run(task)) as TaskOutcome<ParseValue<T>>;
    if (!outcome.ok) throw deserializeError(outcome.error);
    return outcome.value;
  }

  osvBatches(path: string, limits?: BundleLimits): AsyncIterable<OsvBatch> {
    const { port1, port2 } = new MessageChannel();
    const task = this.#run({ kind: "osv", path, limits, port: port2 }, [port2]);
    return osvBatchesFromPort(port1, task);
  }

  async close(): Promise<void> {
    await this.#pool.destroy();
  }
}
