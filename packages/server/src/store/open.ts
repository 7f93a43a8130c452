import { join } from "node:path";
import type { Config } from "../config.ts";
import { PostgresStore } from "./postgres.ts";
import { SqliteStore } from "./sqlite.ts";
import type { Store } from "./store.ts";

/** The configured `Store`: SQLite in the data directory, or a (possibly shared) PostgreSQL. */
export async function openStore(config: Pick<Config, "store" | "dataDir">): Promise<Store> {
  switch (config.store.kind) {
    case "sqlite":
      return new SqliteStore(join(config.dataDir, "bulwark.db"));
    case "postgres":
      return PostgresStore.open({ url: config.store.url });
  }
}
