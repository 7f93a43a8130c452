import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { BulwarkError } from "@bulwark/sdk/errors";
import { DATABASE_URL, freshSchema, needServices } from "../../../../test/services.ts";
import { migrate } from "../store/migrate.ts";
import { migrations } from "../store/migrations.ts";
import { PostgresStore } from "../store/postgres.ts";
import { SqliteStore } from "../store/sqlite.ts";
import type { Store } from "../store/store.ts";
import { assertNotLocked, clearFailures, LOCK_MS, MAX_FAILURES, recordFailure } from "./lockout.ts";

const backends: {
  name: string;
  open(t: TestContext): Promise<{ store: Store; drop(): Promise<void> } | undefined>;
}[] = [
  {
    name: "SQLite",
    async open() {
      const store = new SqliteStore(join(mkdtempSync(join(tmpdir(), "bulwark-lockout-")), "a.db"));
      return { store, drop: async () => {} };
    },
  },
  {
    name: "PostgreSQL",
    async open(t) {
      if (!(await needServices(t, ["postgres"]))) return undefined;
      const schema = freshSchema();
      const store = await PostgresStore.open({ url: DATABASE_URL, schema: schema.name });
      return { store, drop: schema.drop };
    },
  },
];

const locked = (error: unknown) => error instanceof BulwarkError && error.code === "BW_ERR_ACCOUNT_LOCKED";

for (const backend of backends) {
  const withStore = (body: (store: Store) => Promise<void>) => async (t: TestContext) => {
    const opened = await backend.open(t);
    if (!opened) return;
    try {
      await migrate(opened.store, migrations);
      await body(opened.store);
    } finally {
      await opened.store.close();
      await opened.drop();
    }
  };

  describe(`account lockout on ${backend.name}`, () => {
    it(
      "17 failures recorded in parallel lock the account exactly once, and it stays locked",
      withStore(async (store) => {
        const now = Date.now();
        const results = await Promise.all(
          Array.from({ length: 17 }, () => store.transaction((tx) => recordFailure(tx, "Victim", now))),
        );
        assert.equal(results.filter(Boolean).length, 1, "one failure locked it; the others found it locked");
        await assert.rejects(assertNotLocked(store, "victim", now + 1), locked);
        await assert.rejects(assertNotLocked(store, "victim", now + LOCK_MS - 1), locked);
        // Positive control: the lock ends, and another account was never locked.
        await assertNotLocked(store, "victim", now + LOCK_MS);
        await assertNotLocked(store, "someone-else", now + 1);
      }),
    );

    it(
      "a failure or a success during a live lock never clears it",
      withStore(async (store) => {
        const now = Date.now();
        for (let i = 0; i < MAX_FAILURES; i++) await recordFailure(store, "victim", now);
        await assert.rejects(assertNotLocked(store, "victim", now), locked);
        assert.equal(await recordFailure(store, "victim", now + 1), false, "already locked");
        await clearFailures(store, "victim", now + 2);
        await assert.rejects(assertNotLocked(store, "victim", now + 3), locked);
        // Once the lock has ended, a success clears the record and counting starts again.
        await clearFailures(store, "victim", now + LOCK_MS);
        for (let i = 1; i < MAX_FAILURES; i++)
          assert.equal(await recordFailure(store, "victim", now + LOCK_MS), false);
        await assertNotLocked(store, "victim", now + LOCK_MS);
        assert.equal(await recordFailure(store, "victim", now + LOCK_MS), true);
        await assert.rejects(assertNotLocked(store, "victim", now + LOCK_MS + 1), locked);
      }),
    );
  });
}
