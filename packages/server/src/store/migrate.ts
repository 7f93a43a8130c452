import type { Migration } from "./migrations.ts";
import type { Store } from "./store.ts";

/** Applies pending migrations in order, each in its own transaction; returns the ids applied. */
export async function migrate(store: Store, all: readonly Migration[]): Promise<number[]> {
  await store.run(
    `CREATE TABLE IF NOT EXISTS schema_migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`,
  );
  const applied = new Set(
    (await store.all<{ id: number }>(`SELECT id FROM schema_migrations`)).map((r) => Number(r.id)),
  );
  const known = new Set(all.map((m) => m.id));
  const unknown = [...applied].filter((id) => !known.has(id));
  if (unknown.length)
    throw new Error(`the database has migrations this version does not know: ${unknown.join(", ")}`);
  const done: number[] = [];
  for (const migration of [...all].sort((a, b) => a.id - b.id)) {
    if (applied.has(migration.id)) continue;
    await store.transaction(async (tx) => {
      for (const statement of migration.statements)
        if (typeof statement === "string") await tx.run(statement);
        else await statement(tx);
      await tx.run(`INSERT INTO schema_migrations (id, name, applied_at) VALUES (?, ?, ?)`, [
        migration.id,
        migration.name,
        Date.now(),
      ]);
    });
    done.push(migration.id);
  }
  return done;
}
