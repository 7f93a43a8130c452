import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { SqliteStore } from "./sqlite.ts";
import { datasync } from "./wal-sync.ts";

const dir = mkdtempSync(join(tmpdir(), "bulwark-wal-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/** An fsync the test releases by hand, counting the calls; it runs the real fdatasync once released. */
function heldSync() {
  const waiting: (() => void)[] = [];
  let calls = 0;
  let held = true;
  return {
    syncFile: async (fd: number) => {
      calls += 1;
      if (held) await new Promise<void>((resolve) => waiting.push(resolve));
      await datasync(fd);
    },
    release() {
      held = false;
      for (const resolve of waiting.splice(0)) resolve();
    },
    get calls() {
      return calls;
    },
    get waiting() {
      return waiting.length;
    },
  };
}

/** Tells whether a promise has settled after the event loop had a full turn. */
async function settledAfterATurn(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  await new Promise<void>((resolve) => setImmediate(resolve));
  await new Promise<void>((resolve) => setImmediate(resolve));
  return settled;
}

/** A store whose table is made with real fsyncs; every fsync after that waits for `gate`. */
async function gatedStore() {
  const gate = heldSync();
  let gated = false;
  const db = new SqliteStore(join(dir, `db-${++n}.sqlite`), {
    syncFile: (fd) => (gated ? gate.syncFile(fd) : datasync(fd)),
  });
  await db.run("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
  gated = true;
  return { db, gate };
}

describe("SQLite commits are made durable off the event loop (group commit)", () => {
  it("a commit is acknowledged only after the log's fsync, and the event loop runs meanwhile", async () => {
    const { db, gate } = await gatedStore();
    const write = db.transaction((tx) => tx.run("INSERT INTO t (v) VALUES (?)", ["one"]));
    const ddl = db.run("CREATE INDEX t_v ON t (v)");
    let turns = 0;
    const ticking = setInterval(() => turns++, 1);
    while (turns < 3) await new Promise<void>((resolve) => setImmediate(resolve));
    clearInterval(ticking);
    assert.equal(await settledAfterATurn(write), false, "the commit waits for its fsync");
    assert.equal(await settledAfterATurn(ddl), false, "DDL (no row count) waits too");
    assert.equal(gate.waiting, 1, "one fsync in progress, on the thread pool");
    // Positive control: once the disk answers, both are acknowledged.
    gate.release();
    await write;
    await ddl;
    await db.close();
  });

  it("holds the caller, not the process: reads answer while a write waits for its fsync", async () => {
    const { db, gate } = await gatedStore();
    const write = db.transaction(async (tx) => {
      await tx.run("INSERT INTO t (v) VALUES (?)", ["one"]);
    });
    assert.equal(await settledAfterATurn(write), false, "the commit waits for its fsync");
    // The row is committed (visible) though not yet acknowledged; a read is not held by the fsync.
    const read = await db.get<{ v: string }>("SELECT v FROM t");
    assert.equal(read?.v, "one");
    // An autocommit write and `INSERT … RETURNING` wait too.
    const plain = db.run("INSERT INTO t (v) VALUES (?)", ["two"]);
    const returning = db.get<{ id: number }>("INSERT INTO t (v) VALUES (?) RETURNING id", ["three"]);
    assert.equal(await settledAfterATurn(plain), false);
    assert.equal(await settledAfterATurn(returning), false);
    // Positive control: once the disk answers, all of them are acknowledged.
    gate.release();
    await write;
    await plain;
    assert.equal((await returning)?.id, 3);
    await db.close();
  });

  it("commits made while an fsync runs share the next one", async () => {
    const { db, gate } = await gatedStore();
    const writes = Array.from({ length: 50 }, (_, i) =>
      db.transaction((tx) => tx.run("INSERT INTO t (v) VALUES (?)", [`row ${i}`])),
    );
    // Let every transaction commit: one fsync is running, one waits for it, nothing more.
    while ((await db.get<{ c: number }>("SELECT count(*) AS c FROM t"))!.c < 50)
      await new Promise<void>((resolve) => setImmediate(resolve));
    assert.equal(gate.calls, 1, "one fsync in progress");
    gate.release();
    await Promise.all(writes);
    assert.ok(gate.calls <= 2, `50 commits took ${gate.calls} fsyncs`);
    assert.equal(db.walStats.syncs, gate.calls + 1, "the CREATE's own fsync, then the grouped ones");
    await db.close();
  });

  it("a read-only transaction or read does not wait for the disk", async () => {
    let syncs = 0;
    const db = new SqliteStore(join(dir, `db-${++n}.sqlite`), {
      syncFile: (fd) => {
        syncs += 1;
        return datasync(fd);
      },
    });
    await db.run("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
    const afterCreate = syncs;
    await db.transaction((tx) => tx.all("SELECT * FROM t"));
    await db.get("SELECT count(*) FROM t");
    assert.equal(syncs, afterCreate);
    // Positive control: a write does.
    await db.transaction((tx) => tx.run("INSERT INTO t (v) VALUES ('x')"));
    assert.equal(syncs, afterCreate + 1);
    await db.close();
  });

  it("a failed fsync fails that commit and every later one, and the health check", async () => {
    let fail = false;
    const db = new SqliteStore(join(dir, `db-${++n}.sqlite`), {
      syncFile: async (fd) => {
        if (fail) throw Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" });
        await datasync(fd);
      },
    });
    await db.run("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
    await db.ping(); // positive control: healthy before
    fail = true;
    await assert.rejects(
      db.transaction((tx) => tx.run("INSERT INTO t (v) VALUES ('x')")),
      /write-ahead log could not be made durable: EIO/,
    );
    fail = false; // a later fsync that would "succeed" is not trusted: no more writes at all
    await assert.rejects(db.run("INSERT INTO t (v) VALUES ('y')"), /could not be made durable: EIO/);
    await assert.rejects(
      db.transaction((tx) => tx.run("INSERT INTO t (v) VALUES ('z')")),
      /could not be made durable: EIO/,
    );
    const kept = await db.all<{ v: string }>("SELECT v FROM t ORDER BY id");
    assert.deepEqual(
      kept.map((r) => r.v),
      ["x"],
      "the row of the failed fsync's commit is there, none after it",
    );
    await assert.rejects(db.ping(), /could not be made durable/);
    await db.close();
  });

  it("a checkpoint thread copies the log into the database file once it passes its size", async () => {
    const path = join(dir, `db-${++n}.sqlite`);
    const db = new SqliteStore(path, { checkpointPages: 16 });
    await db.run("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
    const fileBefore = statSync(path).size;
    const row = "x".repeat(4000);
    for (let i = 0; i < 10; i++)
      await db.transaction(async (tx) => {
        for (let j = 0; j < 10; j++) await tx.run("INSERT INTO t (v) VALUES (?)", [row]);
      });
    // The log passed 16 pages, so a checkpoint was asked for; ask once more and wait for it.
    const done = await db.checkpoint();
    assert.ok(done.log > 0 && done.checkpointed === done.log, JSON.stringify(done));
    assert.ok(db.walStats.checkpoints >= 1);
    assert.ok(statSync(path).size > fileBefore + 100 * 4000, "the rows are in the database file");
    await db.close();
    const reopened = new SqliteStore(path);
    assert.equal((await reopened.get<{ c: number }>("SELECT count(*) AS c FROM t"))!.c, 100);
    await reopened.close();
  });

  it("an in-memory database keeps SQLite's own commit (no log to fsync)", async () => {
    const db = new SqliteStore(":memory:", {
      syncFile: () => Promise.reject(new Error("must not be called")),
    });
    await db.run("CREATE TABLE t (v TEXT)");
    await db.transaction((tx) => tx.run("INSERT INTO t VALUES ('x')"));
    assert.equal((await db.get<{ c: number }>("SELECT count(*) AS c FROM t"))!.c, 1);
    assert.deepEqual(db.walStats, { syncs: 0, checkpoints: 0 });
    await db.close();
  });
});
