/**
 * The `Store` port: a small async SQL surface that both implementations (`sqlite` embedded,
 * `postgres` for production) provide. Domain queries are written once in a portable SQL subset
 * with `?` placeholders; timestamps are epoch milliseconds, booleans 0/1, JSON as TEXT, bytes as
 * BYTEA (a BLOB in SQLite; read back as a Uint8Array there, a Buffer from PostgreSQL).
 */
export type SqlValue = string | number | bigint | null | Uint8Array;

export interface RunResult {
  changes: number;
}

export interface Queryable {
  all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  run(sql: string, params?: readonly SqlValue[]): Promise<RunResult>;
}

export interface Store extends Queryable {
  readonly dialect: "sqlite" | "postgres";
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` while holding the named lock across every process sharing this store (start-up
   * migrations and the first-run bootstrap). SQLite has one process; PostgreSQL uses an
   * advisory lock.
   */
  exclusive<T>(name: string, fn: () => Promise<T>): Promise<T>;
  /** Checks that the database answers, without waiting for a transaction in progress (`/healthz`). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
