import { BATCH, chunks, placeholders } from "../store/placeholders.ts";
import type { Queryable, SqlValue } from "../store/store.ts";

/**
 * Inserts many rows with multi-row VALUES lists (portable SQLite/PostgreSQL); `suffix` may add an
 * `ON CONFLICT` clause.
 */
export async function insertMany(
  tx: Queryable,
  table: string,
  columns: readonly string[],
  rows: readonly SqlValue[][],
  suffix = "",
): Promise<void> {
  const per = Math.max(1, Math.floor((BATCH * 2) / columns.length));
  const tuple = `(${placeholders(columns.length)})`;
  for (const batch of chunks(rows, per)) {
    await tx.run(
      `INSERT INTO ${table} (${columns.join(", ")}) VALUES ${batch.map(() => tuple).join(", ")} ${suffix}`,
      batch.flat(),
    );
  }
}

/** Runs `SELECT … WHERE column IN (…)` over any number of keys, in chunks. */
export async function selectIn<T>(
  db: Queryable,
  sql: (inList: string) => string,
  keys: readonly string[],
  extra: readonly SqlValue[] = [],
): Promise<T[]> {
  const out: T[] = [];
  for (const batch of chunks([...new Set(keys)])) {
    for (const row of await db.all<T>(sql(placeholders(batch.length)), [...batch, ...extra])) out.push(row);
  }
  return out;
}

/** Runs a statement with `IN (…)` over any number of keys, in chunks; returns the rows changed. */
export async function runIn(
  db: Queryable,
  sql: (inList: string) => string,
  keys: readonly string[],
  extra: readonly SqlValue[] = [],
): Promise<number> {
  let changes = 0;
  for (const batch of chunks([...new Set(keys)])) {
    changes += (await db.run(sql(placeholders(batch.length)), [...extra, ...batch])).changes;
  }
  return changes;
}

/**
 * Takes `count` numbers from a named counter in `software_counters` and returns the first; the
 * row lock held until commit serialises concurrent transactions on PostgreSQL (a portable sequence).
 */
export async function allocate(tx: Queryable, name: string, count: number): Promise<number> {
  const row = await tx.get<{ value: number }>(
    `UPDATE software_counters SET value = value + ? WHERE name = ? RETURNING value`,
    [count, name],
  );
  if (row === undefined) throw new Error(`no counter ${name}`);
  return Number(row.value) - count + 1;
}

/**
 * Takes the software monitor lock: the `monitor` row of `software_counters` (migration 800), locked
 * until commit. Every monitor flow takes it as its first statement, so on PostgreSQL they run one
 * after another, each seeing everything the previous one committed (READ COMMITTED reads a new
 * snapshot per statement). Without it two uploads to one release both found it without a number and
 * both inserted one, and the second failed on `release_keys`' key. On SQLite, one writer at a time
 * already. A row lock inside the transaction, not `Store.exclusive`: that holds a second pooled
 * connection while it waits, and enough waiting uploads would leave the holder none for its
 * transaction.
 */
export async function lockMonitor(tx: Queryable): Promise<void> {
  const { changes } = await tx.run(`UPDATE software_counters SET value = value WHERE name = 'monitor'`);
  if (changes !== 1) throw new Error("no monitor lock row (migration 800)");
}
