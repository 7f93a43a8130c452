import { Worker } from "node:worker_threads";

/**
 * Checkpoints SQLite's write-ahead log on a worker thread with its own connection.
 *
 * An automatic checkpoint runs inside the commit that crosses `wal_autocheckpoint`, on the
 * committing thread: it fsyncs the WAL, copies every changed page into the database file and fsyncs
 * that (sqlite.org/wal.html §"Checkpointing"), and with `node:sqlite` all of it stops the event
 * loop (one lone commit measured at 82 ms during a rollout). A PASSIVE checkpoint from another
 * connection does the same work without blocking readers or the writer (sqlite.org/c3ref/
 * wal_checkpoint_v2.html), so it runs here, on another thread; the writer restarts the log from
 * its start at its next transaction once every frame is copied. The main connection keeps a
 * higher `wal_autocheckpoint` as a backstop should this thread ever stop.
 *
 * The thread starts on first need (tests open hundreds of small stores that never need it) and is
 * unref'd, so it never keeps the process alive.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { DatabaseSync } = require("node:sqlite");
const db = new DatabaseSync(workerData.path);
db.exec("PRAGMA busy_timeout = 5000");
const checkpoint = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
parentPort.on("message", (message) => {
  if (message === "close") {
    db.close();
    parentPort.close();
    return;
  }
  try {
    const row = checkpoint.get();
    parentPort.postMessage({ log: row.log, checkpointed: row.checkpointed, busy: row.busy });
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.message || error) });
  }
});
`;

export interface CheckpointResult {
  /** Frames in the log, and how many of them are now in the database file. */
  log: number;
  checkpointed: number;
}

export class WalCheckpointer {
  readonly #path: string;
  readonly #onError: (error: Error) => void;
  #worker: Worker | undefined;
  #busy = false;
  #again = false;
  #closed = false;
  readonly #done: ((result: CheckpointResult) => void)[] = [];
  /** Completed checkpoints (tests and benchmarks read it). */
  checkpoints = 0;

  constructor(path: string, onError: (error: Error) => void) {
    this.#path = path;
    this.#onError = onError;
  }

  /** Asks for a checkpoint; one in progress is followed by one more, never more than that. */
  request(): Promise<CheckpointResult> {
    if (this.#closed) return Promise.resolve({ log: 0, checkpointed: 0 });
    const result = new Promise<CheckpointResult>((resolve) => this.#done.push(resolve));
    if (this.#busy) this.#again = true;
    else this.#start();
    return result;
  }

  #start(): void {
    this.#busy = true;
    this.#again = false;
    this.#thread().postMessage("checkpoint");
  }

  #thread(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      name: "bulwark-wal-checkpoint",
      workerData: { path: this.#path },
    });
    worker.unref();
    worker.on("message", (message: CheckpointResult & { error?: string }) => {
      this.#busy = false;
      if (message.error) this.#onError(new Error(`WAL checkpoint failed: ${message.error}`));
      else this.checkpoints += 1;
      const waiting = this.#done.splice(0);
      for (const resolve of waiting)
        resolve({ log: message.log ?? 0, checkpointed: message.checkpointed ?? 0 });
      if (this.#again && !this.#closed) this.#start();
    });
    const lost = (error: Error) => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      this.#busy = false;
      if (!this.#closed) this.#onError(error);
      // Callers waiting on the lost thread hear nothing back from it: answer them, and the main
      // connection's own automatic checkpoint takes over until the next request starts a thread.
      for (const resolve of this.#done.splice(0)) resolve({ log: 0, checkpointed: 0 });
    };
    worker.on("error", lost);
    worker.on("exit", (code) => lost(new Error(`the WAL checkpoint thread exited (${code})`)));
    this.#worker = worker;
    return worker;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    if (!worker) return;
    this.#worker = undefined;
    const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
    worker.postMessage("close");
    await exited;
    for (const resolve of this.#done.splice(0)) resolve({ log: 0, checkpointed: 0 });
  }
}
