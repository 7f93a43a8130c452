import { join } from "node:path";
import { PostgresStore } from "./postgres.ts";
import { SqliteStore } from "./sqlite.ts";
import type { Store } from "./store.ts";

/** Which store the server runs on (`--store`, `--database-url`). */
export type StoreChoice = { kind: "sqlite" } | { kind: "postgres"; url: string };

/** The configured `Store`: SQLite in the data directory, or a (possibly shared) PostgreSQL. */
export async function openStore(config: { store: StoreChoice; dataDir: string }): Promise<Store> {
  switch (config.store.kind) {
    case "sqlite":
      return new SqliteStore(join(config.dataDir, "bulwark.db"));
    case "postgres":
      return PostgresStore.open({ url: config.store.url });
  }
}
