import { chmodSync, closeSync, existsSync, openSync } from "node:fs";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { Queryable, RunResult, SqlValue, Store } from "./store.ts";

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

  constructor(path: string) {
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
      "PRAGMA page_size = 8192; PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 5000; PRAGMA journal_size_limit = 67108864;",
    );
    // The -wal and -shm files exist now; an older one may predate the rule above.
    ownerOnly(path);
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
    return this.#outside(() => this.#direct.all<T>(sql, params));
  }

  get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return this.#outside(() => this.#direct.get<T>(sql, params));
  }

  run(sql: string, params?: readonly SqlValue[]): Promise<RunResult> {
    return this.#outside(() => this.#direct.run(sql, params));
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const previous = this.#lock;
    let release!: () => void;
    this.#lock = new Promise((resolve) => {
      release = resolve;
    });
    await previous;
    this.#inTransaction = true;
    try {
      this.#db.exec("BEGIN IMMEDIATE");
      try {
        const result = await fn(this.#yielding());
        this.#db.exec("COMMIT");
        return result;
      } catch (error) {
        this.#db.exec("ROLLBACK");
        throw error;
      }
    } finally {
      this.#inTransaction = false;
      release();
    }
  }

  #exclusive: Promise<unknown> = Promise.resolve();

  exclusive<T>(_name: string, fn: () => Promise<T>): Promise<T> {
    // One process owns a SQLite file, so an in-process queue is the whole lock.
    const next = this.#exclusive.then(fn, fn);
    this.#exclusive = next.catch(() => undefined);
    return next;
  }

  async ping(): Promise<void> {
    // Reads no table, so it may run inside another caller's open transaction on this connection.
    this.#statement("SELECT 1").get();
  }

  async close(): Promise<void> {
    this.#db.close();
  }
}
