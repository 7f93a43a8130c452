import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, it, type TestContext } from "node:test";
import { DATABASE_URL, freshSchema, needServices } from "../../../../test/services.ts";
import { appendAudit, verifyAuditChain } from "../audit/audit-log.ts";
import { migrate } from "./migrate.ts";
import { migrations } from "./migrations.ts";
import { PostgresStore } from "./postgres.ts";
import { SqliteStore } from "./sqlite.ts";
import type { Store } from "./store.ts";

interface Opened {
  store: Store;
  /** A second handle on the same database, as another process would have. */
  another(): Promise<Store>;
  cleanup(): Promise<void>;
}

const backends: { name: string; open(t: TestContext): Promise<Opened | undefined> }[] = [
  {
    name: "SqliteStore",
    async open() {
      const path = join(mkdtempSync(join(tmpdir(), "bulwark-store-")), "t.db");
      const store = new SqliteStore(path);
      // One process owns a SQLite file: "another process" is the same handle.
      return { store, another: async () => store, cleanup: async () => {} };
    },
  },
  {
    name: "PostgresStore",
    async open(t) {
      if (!(await needServices(t, ["postgres"]))) return undefined;
      const schema = freshSchema();
      const open = () => PostgresStore.open({ url: DATABASE_URL, schema: schema.name });
      return { store: await open(), another: open, cleanup: schema.drop };
    },
  },
];

for (const backend of backends) {
  /** Runs `body` on a fresh database of this backend, then closes and removes it. */
  const withStore = (body: (opened: Opened) => Promise<void>) => async (t: TestContext) => {
    const opened = await backend.open(t);
    if (!opened) return;
    try {
      await body(opened);
    } finally {
      await opened.store.close();
      await opened.cleanup();
    }
  };

  describe(`${backend.name} and migrations`, () => {
    it(
      "applies migrations once, in order, and refuses a database from a newer version",
      withStore(async ({ store }) => {
        // Applied by id, whichever domain file declares them (each domain has its own id range).
        const ids = migrations.map((m) => m.id).sort((a, b) => a - b);
        assert.equal(new Set(ids).size, ids.length, "migration ids are unique");
        assert.deepEqual(await migrate(store, migrations), ids);
        assert.deepEqual(await migrate(store, migrations), []);
        await store.run(`INSERT INTO schema_migrations (id, name, applied_at) VALUES (9999, 'future', 0)`);
        await assert.rejects(migrate(store, migrations), /does not know: 9999/);
      }),
    );

    it(
      "a failing migration leaves no trace of its statements",
      withStore(async ({ store }) => {
        const broken = [
          { id: 1, name: "broken", statements: ["CREATE TABLE a (x INTEGER)", "CREATE TABLE"] },
        ];
        // SQLite and PostgreSQL each refuse the truncated statement with their own words.
        await assert.rejects(migrate(store, broken), /incomplete input|syntax error/);
        await assert.rejects(store.get(`SELECT COUNT(*) AS n FROM a`), /no such table|does not exist/);
        assert.deepEqual(await store.all(`SELECT * FROM schema_migrations`), []);
      }),
    );

    it(
      "a transaction rolls back on error and is isolated from concurrent callers",
      withStore(async ({ store }) => {
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
          await t.run(`INSERT INTO t (v) VALUES (?)`, [2]);
          // A read from outside, issued while the transaction is open and awaiting.
          outside = store
            .all<{ v: number }>(`SELECT v FROM t ORDER BY v`)
            .then((rows) => rows.map((r) => r.v));
          await new Promise((r) => setTimeout(r, 20));
          await t.run(`INSERT INTO t (v) VALUES (?)`, [3]);
        });
        const seen = await outside;
        // The outside read never sees 2 without 3: SQLite waits for the commit, PostgreSQL reads
        // the last committed state (nothing) or, if it ran after the commit, both rows.
        assert.ok(
          JSON.stringify(seen) === "[2,3]" ||
            (backend.name === "PostgresStore" && JSON.stringify(seen) === "[]"),
          `saw ${JSON.stringify(seen)}`,
        );
        assert.deepEqual(
          (await store.all<{ v: number }>(`SELECT v FROM t ORDER BY v`)).map((r) => r.v),
          [2, 3],
        );
      }),
    );

    it(
      "BIGINT and COUNT come back as numbers, text with ? and quotes survives placeholders",
      withStore(async ({ store }) => {
        await store.run(`CREATE TABLE n (at BIGINT NOT NULL, note TEXT NOT NULL)`);
        const ms = 4_102_444_800_123; // 2100-01-01, beyond 2^32
        await store.run(`INSERT INTO n (at, note) VALUES (?, 'what''s this?')`, [ms]);
        const row = await store.get<{ at: unknown; note: string; n: unknown }>(
          `SELECT at, note, (SELECT COUNT(*) FROM n) AS n FROM n WHERE at = ?`,
          [ms],
        );
        assert.deepEqual({ ...row }, { at: ms, note: "what's this?", n: 1 });
        assert.equal((await store.run(`UPDATE n SET note = ? WHERE at > ?`, ["x", 0])).changes, 1);
      }),
    );

    it(
      "concurrent audit appends all commit, in one unbroken chain",
      withStore(async ({ store, another }) => {
        await migrate(store, migrations);
        const second = await another();
        try {
          await Promise.all(
            Array.from({ length: 16 }, (_, i) =>
              (i % 2 ? second : store).transaction((tx) =>
                appendAudit(tx, {
                  actor: { type: "system" },
                  action: "test.concurrent",
                  outcome: "success",
                  details: { i },
                }),
              ),
            ),
          );
        } finally {
          if (second !== store) await second.close();
        }
        const verified = await verifyAuditChain(store);
        assert.equal(verified.entries, 16);
        assert.equal(verified.problem, undefined);
      }),
    );

    it(
      "exclusive() never lets two holders of the same lock overlap",
      withStore(async ({ store, another }) => {
        const second = await another();
        const events: string[] = [];
        const hold = (s: Store, who: string) =>
          s.exclusive("test-lock", async () => {
            events.push(`${who}+`);
            await new Promise((r) => setTimeout(r, 30));
            events.push(`${who}-`);
          });
        try {
          await Promise.all([hold(store, "a"), hold(second, "b"), hold(store, "c")]);
        } finally {
          if (second !== store) await second.close();
        }
        for (let i = 0; i < events.length; i += 2) {
          assert.match(events[i]!, /\+$/);
          assert.equal(events[i + 1], events[i]!.replace("+", "-"));
        }
      }),
    );
  });
}

describe("SqliteStore file settings", () => {
  const pageSize = async (store: Store) =>
    (await store.get<{ page_size: number }>("PRAGMA page_size"))!.page_size;

  it("makes a new file with 8 KiB pages in WAL mode", async () => {
    const store = new SqliteStore(join(mkdtempSync(join(tmpdir(), "bulwark-store-")), "new.db"));
    try {
      await migrate(store, migrations);
      assert.equal(await pageSize(store), 8192);
      assert.equal((await store.get<{ journal_mode: string }>("PRAGMA journal_mode"))!.journal_mode, "wal");
    } finally {
      await store.close();
    }
  });

  it("keeps the 4 KiB pages of a file made before, with its data", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "bulwark-store-")), "old.db");
    const old = new DatabaseSync(path);
    old.exec(
      "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE kept (v TEXT); INSERT INTO kept VALUES ('x')",
    );
    old.close();
    const store = new SqliteStore(path);
    try {
      assert.equal(await pageSize(store), 4096);
      assert.deepEqual(
        (await store.all<{ v: string }>("SELECT v FROM kept")).map((r) => r.v),
        ["x"],
      );
      await store.transaction((tx) => tx.run("INSERT INTO kept VALUES ('y')"));
      assert.equal((await store.get<{ n: number }>("SELECT count(*) AS n FROM kept"))!.n, 2);
    } finally {
      await store.close();
    }
  });
});
