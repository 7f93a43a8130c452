import pg from "pg";
import { numberPlaceholders } from "./placeholders.ts";
import type { Queryable, RunResult, SqlValue, Store } from "./store.ts";

// PostgreSQL type OIDs whose text form we turn into JS numbers: int8 (COUNT, BIGINT columns).
// Epoch-ms timestamps and counters stay far below 2^53.
const INT8_OID = 20;

const types = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === INT8_OID) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format as "text");
  },
};

export interface PostgresOptions {
  url: string;
  /** A schema to create if missing and put first on the search path (tests use one per run). */
  schema?: string;
  maxConnections?: number;
}

type PgRunner = Pick<pg.Pool, "query"> | Pick<pg.PoolClient, "query">;

function queryable(runner: PgRunner, cache: Map<string, string>): Queryable {
  const text = (sql: string) => {
    let rewritten = cache.get(sql);
    if (rewritten === undefined) {
      rewritten = numberPlaceholders(sql);
      cache.set(sql, rewritten);
    }
    return rewritten;
  };
  const query = (sql: string, params: readonly SqlValue[] = []) =>
    runner.query({ text: text(sql), values: params as SqlValue[], types });
  return {
    async all<T>(sql: string, params?: readonly SqlValue[]) {
      return (await query(sql, params)).rows as T[];
    },
    async get<T>(sql: string, params?: readonly SqlValue[]) {
      return (await query(sql, params)).rows[0] as T | undefined;
    },
    async run(sql: string, params?: readonly SqlValue[]): Promise<RunResult> {
      return { changes: (await query(sql, params)).rowCount ?? 0 };
    },
  };
}

const quoteIdent = (name: string) => {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`invalid schema name ${name}`);
  return `"${name}"`;
};

/**
 * The production `Store`: PostgreSQL through `pg` (pure JS). Queries run on a pool; a
 * transaction holds one pooled client from BEGIN to COMMIT/ROLLBACK. Several server processes
 * may share one database; `exclusive` serialises work across them with an advisory lock.
 */
export class PostgresStore implements Store {
  readonly dialect = "postgres" as const;
  readonly #pool: pg.Pool;
  readonly #cache = new Map<string, string>();
  readonly #direct: Queryable;

  private constructor(pool: pg.Pool) {
    this.#pool = pool;
    this.#direct = queryable(pool, this.#cache);
  }

  static async open(options: PostgresOptions): Promise<PostgresStore> {
    const schema = options.schema && quoteIdent(options.schema);
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.maxConnections ?? 10,
      // Every pooled connection gets the schema first on its search path.
      options: schema ? `-c search_path=${schema},public` : undefined,
    });
    pool.on("error", () => {
      // An idle client lost its connection; the pool replaces it on next use (and the query that
      // needs it reports any lasting failure).
    });
    if (schema) await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await pool.query("SELECT 1");
    return new PostgresStore(pool);
  }

  all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return this.#direct.all<T>(sql, params);
  }

  get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return this.#direct.get<T>(sql, params);
  }

  run(sql: string, params?: readonly SqlValue[]): Promise<RunResult> {
    return this.#direct.run(sql, params);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    let broken = false;
    const lost = () => {
      broken = true;
    };
    // A checked-out client has no pool listener: a connection lost between two queries would be
    // an unhandled 'error' (the end of the process); the next query of the transaction fails instead.
    client.on("error", lost);
    try {
      await client.query("BEGIN");
      try {
        const result = await fn(queryable(client, this.#cache));
        await client.query("COMMIT");
        return result;
      } catch (error) {
        await client.query("ROLLBACK").catch(() => {
          broken = true;
        });
        throw error;
      }
    } finally {
      client.off("error", lost);
      client.release(broken);
    }
  }

  async exclusive<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    let broken = false;
    const lost = () => {
      broken = true;
    };
    client.on("error", lost);
    try {
      // A session-level advisory lock keyed by the name: other processes wait here.
      await client.query("SELECT pg_advisory_lock(hashtext($1))", [name]);
      try {
        return await fn();
      } finally {
        await client.query("SELECT pg_advisory_unlock(hashtext($1))", [name]);
      }
    } finally {
      client.off("error", lost);
      client.release(broken);
    }
  }

  async ping(): Promise<void> {
    // A pooled connection of its own: an open transaction holds another.
    await this.#pool.query("SELECT 1");
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}
