import type { Queryable } from "./store.ts";

export interface Migration {
  id: number;
  name: string;
  /** SQL run in order in the migration's transaction; a function is a data step written in code. */
  statements: (string | ((tx: Queryable) => Promise<void>))[];
}
