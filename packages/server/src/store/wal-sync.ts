import { close, fdatasync, fsync, open } from "node:fs";
import { dirname } from "node:path";
import { promisify } from "node:util";

/** Makes a file durable: `fdatasync(2)` on the libuv thread pool, so the event loop keeps running. */
export type SyncFile = (fd: number) => Promise<void>;

// Plain descriptors, not `FileHandle`s: a store a test never closes must not have its handle
// closed by the garbage collector (an error since Node 24), and the connection leaks the same way.
const openFile = promisify(open);
const closeFile = promisify(close);
export const datasync: SyncFile = promisify(fdatasync);
const fullSync = promisify(fsync);

/**
 * Group commit for SQLite's write-ahead log, off the event loop.
 *
 * With `synchronous = FULL` every commit fsyncs the WAL inside `COMMIT`, and `node:sqlite` is
 * synchronous: the whole process (TLS, MQTT, HTTP) stops for each fsync, 0.2 ms typically and
 * hundreds of milliseconds at the disk's worst (measured here: median 0.24 ms, max 293 ms in 50).
 * With `synchronous = NORMAL` in WAL mode a commit only writes its frames (no fsync) and "a
 * transaction committed in WAL mode with synchronous=NORMAL might roll back following a power loss
 * or system crash" but the database is never corrupted (sqlite.org/pragma.html#pragma_synchronous).
 * So each commit is followed by an `fdatasync` of the `-wal` file here, and the caller hears of the
 * commit only once that returned: the same durability as FULL for everything acknowledged. The
 * fsync covers every frame written before it started, so commits made while one runs share the
 * next one (at most one running and one waiting), which is a group commit.
 *
 * A failed fsync poisons the store: after it the kernel may have dropped the dirty pages and a
 * later fsync can succeed on data that never reached the disk (PostgreSQL's "fsyncgate", 2018),
 * so every later write is refused with the first error and `/healthz` reports it.
 */
export class WalSync {
  readonly #path: string;
  readonly #sync: SyncFile;
  #fd: Promise<number> | undefined;
  #running: Promise<void> | undefined;
  #waiting: Promise<void> | undefined;
  #failure: Error | undefined;
  /** How many fsyncs ran (tests and benchmarks read it to see commits grouped). */
  syncs = 0;

  constructor(walPath: string, sync: SyncFile = datasync) {
    this.#path = walPath;
    this.#sync = sync;
  }

  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Resolves once everything committed before the call is on the disk. */
  durable(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (!this.#running) {
      this.#running = this.#syncOnce().finally(() => {
        this.#running = undefined;
      });
      return this.#running;
    }
    // The running fsync may have started before this caller's frames were written: wait for the next.
    this.#waiting ??= this.#running
      .catch(() => undefined)
      .then(() => {
        this.#waiting = undefined;
        return this.durable();
      });
    return this.#waiting;
  }

  async #syncOnce(): Promise<void> {
    try {
      this.#fd ??= this.#open();
      await this.#sync(await this.#fd);
      this.syncs += 1;
    } catch (error) {
      this.#failure ??= new Error(
        `the database's write-ahead log could not be made durable: ${(error as Error).message}`,
      );
      throw this.#failure;
    }
  }

  async #open(): Promise<number> {
    // "r+": never creates it (SQLite did, at the journal_mode pragma). fsync of any descriptor of
    // the file flushes the file (POSIX fsync(2)); the directory is synced once so the -wal entry
    // itself survives a power loss.
    const fd = await openFile(this.#path, "r+");
    const directory = await openFile(dirname(this.#path), "r");
    try {
      await fullSync(directory);
    } finally {
      await closeFile(directory);
    }
    return fd;
  }

  /** Waits for the fsync in progress, then closes the file. */
  async close(): Promise<void> {
    await (this.#waiting ?? this.#running)?.catch(() => undefined);
    const fd = this.#fd;
    this.#fd = undefined;
    const open = await fd?.catch(() => undefined);
    if (open !== undefined) await closeFile(open);
  }
}
