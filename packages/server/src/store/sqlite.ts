import { chmodSync, closeSync, existsSync, openSync, statSync } from "node:fs";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { Queryable, RunResult, SqlValue, Store } from "./store.ts";
import { WalCheckpointer } from "./wal-checkpointer.ts";
import { type SyncFile, WalSync } from "./wal-sync.ts";

/**
 * The database and its -wal, -shm and -journal files hold the audit log and every sealed secret:
 * owner-only (0600). The file is created 0600 before SQLite opens it, since SQLite gives the files it
 * creates beside a database that database's mode; files an older version left 0644 are narrowed.
 */
function ownerOnly(path: string): void {
  if (path === ":memory:" || path.startsWith("file:")) return;
  closeSync(openSync(path, "a", 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`])
    if (existsSync(file)) chmodSync(file, 0o600);
}

/** How long a transaction may keep the event loop before it lets other callbacks run. */
const YIELD_MS = 20;

export interface SqliteStoreOptions {
  /** The fsync of the write-ahead log after commits (tests hold it to see who waits on it). */
  syncFile?: SyncFile;
  /** WAL pages after which the checkpoint thread copies the log into the database file. */
  checkpointPages?: number;
  /** A checkpoint thread's failure (logged by the server; the automatic checkpoint takes over). */
  onCheckpointError?: (error: Error) => void;
}

const PAGE_SIZE = 8192;
/** A plain SELECT writes nothing (a `WITH` may lead into an INSERT, so it is measured). */
const READ_ONLY = /^\s*SELECT\b/i;

/**
 * The embedded `Store`: one SQLite file through `node:sqlite`. SQLite is synchronous and has one
 * writer, so a transaction holds a lock that other callers wait on, even across its awaits.
 */
export class SqliteStore implements Store {
  readonly dialect = "sqlite" as const;
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();
  #lock: Promise<void> = Promise.resolve();
  #inTransaction = false;

  /** Set when the file is in WAL mode: commits are made durable off the event loop. */
  readonly #wal: WalSync | undefined;
  readonly #checkpointer: WalCheckpointer | undefined;
  readonly #walPath: string;
  readonly #checkpointBytes: number;

  constructor(path: string, options: SqliteStoreOptions = {}) {
    ownerOnly(path);
    this.#db = new DatabaseSync(path);
    // A 64 MiB page cache keeps the index pages of a large transaction (a full advisory re-match
    // writes ~10^6 findings) in memory instead of spilling them to the WAL over and over; temporary
    // b-trees (sorts, DISTINCT) stay in memory. `synchronous` stays at its default (FULL): the audit
    // log lives in this file. The WAL is checkpointed every 5,000 pages (40 MiB) instead of 1,000:
    // a write burst (bulk issuance, a re-match) dirties the same index pages batch after batch, and
    // a checkpoint copies each page once however often it was rewritten since the last one; after a
    // checkpoint the file is truncated back to at most 64 MiB.
    // A new database gets 8 KiB pages (PostgreSQL's size; SQLite's default is 4 KiB): fewer WAL
    // frames for the same rows, each frame with a fixed cost (a commit of 500 issued certificates,
    // then stored as PEM, took 4.3 ms instead of 5.4 ms). The pragma must come before WAL mode is
    // set and changes nothing in an existing file.
    this.#db.exec(
      `PRAGMA page_size = ${PAGE_SIZE}; PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 5000; PRAGMA journal_size_limit = 67108864;`,
    );
    // The -wal and -shm files exist now; an older one may predate the rule above.
    ownerOnly(path);
    this.#walPath = `${path}-wal`;
    const checkpointPages = options.checkpointPages ?? 5000;
    this.#checkpointBytes = checkpointPages * PAGE_SIZE;
    const mode = this.#db.prepare("PRAGMA journal_mode").get() as { journal_mode: string };
    if (mode.journal_mode === "wal") {
      // Commits write the log without an fsync; `#durable` fsyncs it on the thread pool before the
      // caller hears of the commit (wal-sync.ts). Checkpoints run on their own thread; the
      // connection's own automatic checkpoint stays, four times later, as the backstop.
      this.#db.exec(`PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = ${checkpointPages * 4};`);
      this.#wal = new WalSync(this.#walPath, options.syncFile);
      this.#checkpointer = new WalCheckpointer(
        path,
        options.onCheckpointError ?? ((error) => process.emitWarning(error.message, "BulwarkStoreWarning")),
      );
    }
  }

  #totalChanges(): number {
    return Number((this.#statement("SELECT total_changes() AS n").get() as { n: number | bigint }).n);
  }

  /** Rows changed and schema changes (DDL changes no row count) so far on this connection. */
  #writeMark(): string {
    const schema = this.#statement("PRAGMA schema_version").get() as { schema_version: number };
    return `${this.#totalChanges()}/${schema.schema_version}`;
  }

  /** Resolves once what this connection committed is on the disk. */
  async #durable(): Promise<void> {
    if (!this.#wal) return;
    await this.#wal.durable();
    this.#maybeCheckpoint();
  }

  /**
   * Runs a statement outside any transaction (SQLite commits it on its own) and, when it wrote,
   * waits until that is durable. Whether it wrote is read with `total_changes()` around it, in the
   * same synchronous step (`INSERT … RETURNING` comes through `get` and `all` too).
   */
  async #autocommit<T>(
    sql: string,
    statement: (direct: Queryable) => Promise<T>,
    alwaysWrites = false,
  ): Promise<T> {
    let wrote = alwaysWrites;
    // A store whose log could not be made durable takes no more writes (wal-sync.ts).
    if (alwaysWrites && this.#wal?.failure) throw this.#wal.failure;
    const result = await this.#outside(() => {
      if (!this.#wal || alwaysWrites || READ_ONLY.test(sql)) return statement(this.#direct);
      const before = this.#totalChanges();
      const pending = statement(this.#direct); // runs synchronously up to its promise
      wrote = this.#totalChanges() !== before;
      return pending;
    });
    if (wrote) await this.#durable();
    return result;
  }

  #maybeCheckpoint(): void {
    let size = 0;
    try {
      size = statSync(this.#walPath).size;
    } catch {
      return;
    }
    if (size >= this.#checkpointBytes) void this.#checkpointer?.request();
  }

  /** Copies the log into the database file now, on the checkpoint thread (tests, benchmarks). */
  checkpoint(): Promise<{ log: number; checkpointed: number }> {
    return this.#checkpointer?.request() ?? Promise.resolve({ log: 0, checkpointed: 0 });
  }

  /** How many fsyncs of the log ran and how many checkpoints the thread made. */
  get walStats(): { syncs: number; checkpoints: number } {
    return { syncs: this.#wal?.syncs ?? 0, checkpoints: this.#checkpointer?.checkpoints ?? 0 };
  }

  #statement(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #direct: Queryable = {
    all: async <T>(sql: string, params: readonly SqlValue[] = []) =>
      this.#statement(sql).all(...params) as T[],
    get: async <T>(sql: string, params: readonly SqlValue[] = []) =>
      this.#statement(sql).get(...params) as T | undefined,
    run: async (sql: string, params: readonly SqlValue[] = []): Promise<RunResult> => ({
      changes: Number(this.#statement(sql).run(...params).changes),
    }),
  };

  /**
   * The transaction's statements, which give the event loop a turn whenever the transaction has
   * held it for YIELD_MS: node:sqlite is synchronous, so without this a long transaction (a
   * 20,000-component SBOM, an advisory re-match) answered no request, not even `/healthz`, until it
   * committed. Other statements still wait for the transaction (the lock); only ping does not.
   */
  #yielding(): Queryable {
    let since = performance.now();
    const breathe = async <T>(result: T): Promise<T> => {
      if (performance.now() - since >= YIELD_MS) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        since = performance.now();
      }
      return result;
    };
    return {
      all: async (sql, params) => breathe(await this.#direct.all(sql, params)),
      get: async (sql, params) => breathe(await this.#direct.get(sql, params)),
      run: async (sql, params) => breathe(await this.#direct.run(sql, params)),
    };
  }

  async #outside<T>(fn: () => Promise<T>): Promise<T> {
    while (this.#inTransaction) await this.#lock;
    return fn();
  }

  all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return this.#autocommit(sql, (direct) => direct.all<T>(sql, params));
  }

  get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return this.#autocommit(sql, (direct) => direct.get<T>(sql, params));
  }

  run(sql: string, params?: readonly SqlValue[]): Promise<RunResult> {
    // DDL changes no row count but is written all the same.
    return this.#autocommit(sql, (direct) => direct.run(sql, params), true);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const previous = this.#lock;
    let release!: () => void;
    this.#lock = new Promise((resolve) => {
      release = resolve;
    });
    await previous;
    if (this.#wal?.failure) {
      release();
      throw this.#wal.failure;
    }
    this.#inTransaction = true;
    let result: T;
    let wrote = false;
    try {
      // Nothing else runs on this connection while the transaction is open (the lock, and
      // `#outside`), so what changed between here and the commit is the transaction's own.
      const before = this.#wal ? this.#writeMark() : "";
      this.#db.exec("BEGIN IMMEDIATE");
      try {
        result = await fn(this.#yielding());
        this.#db.exec("COMMIT");
        wrote = this.#wal !== undefined && this.#writeMark() !== before;
      } catch (error) {
        this.#db.exec("ROLLBACK");
        throw error;
      }
    } finally {
      this.#inTransaction = false;
      release();
    }
    // The next transaction may begin while this one's log is fsynced (a group commit); this
    // caller hears of its commit only once it is durable. What the next one reads of this one is
    // durable before the next one is acknowledged, since an fsync covers every earlier frame.
    if (wrote) await this.#durable();
    return result;
  }

  #exclusive: Promise<unknown> = Promise.resolve();

  exclusive<T>(_name: string, fn: () => Promise<T>): Promise<T> {
    // One process owns a SQLite file, so an in-process queue is the whole lock.
    const next = this.#exclusive.then(fn, fn);
    this.#exclusive = next.catch(() => undefined);
    return next;
  }

  async ping(): Promise<void> {
    // A log that could not be made durable fails every commit from then on: say so here too.
    const failure = this.#wal?.failure;
    if (failure) throw failure;
    // Reads no table, so it may run inside another caller's open transaction on this connection.
    this.#statement("SELECT 1").get();
  }

  async close(): Promise<void> {
    await this.#wal?.close();
    await this.#checkpointer?.close();
    this.#db.close();
  }
}
