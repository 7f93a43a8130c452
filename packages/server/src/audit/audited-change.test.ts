import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, it } from "node:test";
import { migrate } from "../store/migrate.ts";
import { migrations } from "../store/migrations.ts";
import { SqliteStore } from "../store/sqlite.ts";
import { listAudit } from "./audit-log.ts";
import { auditedAction, auditedChange } from "./audited-change.ts";

const byKey = { principal: { kind: "api-key", user: { id: "u1" }, apiKeyId: "k1" } };
const bySession = { principal: { kind: "session", user: { id: "u2" } } };

describe("auditedChange: a change and its audit entry in one transaction", () => {
  let store: SqliteStore;
  beforeEach(async () => {
    store = new SqliteStore(join(mkdtempSync(join(tmpdir(), "bulwark-audited-")), "a.db"));
    await migrate(store, migrations);
    await store.run(`CREATE TABLE things (name TEXT NOT NULL)`);
  });
  const things = async () =>
    (await store.all<{ name: string }>(`SELECT name FROM things`)).map((r) => r.name);

  it("commits the change with an entry naming the request's principal, built from the result", async () => {
    const result = await auditedChange(
      store,
      byKey,
      async (tx) => {
        await tx.run(`INSERT INTO things (name) VALUES ('a')`);
        return { id: "t1" };
      },
      (made) => ({ action: "thing.create", target: { type: "thing", id: made.id }, details: { name: "a" } }),
    );
    assert.deepEqual(result, { id: "t1" });
    assert.deepEqual(await things(), ["a"]);
    const [entry] = await listAudit(store, { limit: 10 });
    assert.equal(entry?.actorType, "api-key");
    assert.equal(entry?.actorId, "k1");
    assert.equal(entry?.action, "thing.create");
    assert.equal(entry?.outcome, "success");
    assert.equal(entry?.targetId, "t1");
    assert.deepEqual(entry?.details, { name: "a" });
  });

  it("hands the change the actor (a session's user)", async () => {
    let seen: unknown;
    await auditedChange(
      store,
      bySession,
      async (_tx, actor) => {
        seen = actor;
      },
      { action: "thing.touch" },
    );
    assert.deepEqual(seen, { type: "user", id: "u2" });
  });

  it("a change that throws leaves neither the change nor an entry", async () => {
    await assert.rejects(
      auditedChange(
        store,
        byKey,
        async (tx) => {
          await tx.run(`INSERT INTO things (name) VALUES ('b')`);
          throw new Error("refused");
        },
        { action: "thing.create" },
      ),
      { message: "refused" },
    );
    // Positive control: an action recorded afterwards is the first and only entry.
    await auditedAction(store, bySession, { action: "thing.export" });
    assert.deepEqual(await things(), []);
    assert.deepEqual(
      (await listAudit(store, { limit: 10 })).map((e) => e.action),
      ["thing.export"],
    );
  });

  it("an entry that cannot be written rolls the change back", async () => {
    await store.run(`DELETE FROM audit_head`);
    await assert.rejects(
      auditedChange(store, byKey, (tx) => tx.run(`INSERT INTO things (name) VALUES ('c')`), {
        action: "thing.create",
      }),
      { message: "audit log head is missing" },
    );
    assert.deepEqual(await things(), []);
  });
});
