import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { migrate } from "./migrate.ts";
import { migrations } from "./migrations.ts";
import { SqliteStore } from "./sqlite.ts";

const fresh = () => new SqliteStore(join(mkdtempSync(join(tmpdir(), "bulwark-store-")), "t.db"));

describe("SqliteStore and migrations", () => {
  it("applies migrations once, in order, and refuses a database from a newer version", async () => {
    const store = fresh();
    assert.deepEqual(
      await migrate(store, migrations),
      migrations.map((m) => m.id),
    );
    assert.deepEqual(await migrate(store, migrations), []);
    await store.run(`INSERT INTO schema_migrations (id, name, applied_at) VALUES (9999, 'future', 0)`);
    await assert.rejects(migrate(store, migrations), /does not know: 9999/);
    await store.close();
  });

  it("a failing migration leaves no trace of its statements", async () => {
    const store = fresh();
    const broken = [{ id: 1, name: "broken", statements: ["CREATE TABLE a (x INTEGER)", "CREATE TABLE"] }];
    await assert.rejects(migrate(store, broken));
    assert.equal(await store.get(`SELECT name FROM sqlite_master WHERE name = 'a'`), undefined);
    assert.deepEqual(await store.all(`SELECT * FROM schema_migrations`), []);
    await store.close();
  });

  it("a transaction rolls back on error and serialises against concurrent callers", async () => {
    const store = fresh();
    await store.run(`CREATE TABLE t (v INTEGER)`);
    await assert.rejects(
      store.transaction(async (tx) => {
        await tx.run(`INSERT INTO t (v) VALUES (1)`);
        throw new Error("boom");
      }),
      /boom/,
    );
    assert.deepEqual(await store.all(`SELECT v FROM t`), []);
    let outside: Promise<number[]> | undefined;
    await store.transaction(async (t) => {
      await t.run(`INSERT INTO t (v) VALUES (2)`);
      // A read from outside, issued while the transaction is open and awaiting.
      outside = store.all<{ v: number }>(`SELECT v FROM t ORDER BY v`).then((rows) => rows.map((r) => r.v));
      await new Promise((r) => setTimeout(r, 20));
      await t.run(`INSERT INTO t (v) VALUES (3)`);
    });
    const seenInside = await outside;
    // The outside read waited for the whole transaction: it never sees 2 without 3.
    assert.deepEqual(seenInside, [2, 3]);
    await store.close();
  });
});
