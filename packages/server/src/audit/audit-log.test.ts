import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, it } from "node:test";
import { migrate } from "../store/migrate.ts";
import { migrations } from "../store/migrations.ts";
import { SqliteStore } from "../store/sqlite.ts";
import { appendAudit, verifyAuditChain } from "./audit-log.ts";
import { canonicalJson } from "./canonical.ts";

describe("hash-chained audit log", () => {
  let store: SqliteStore;
  beforeEach(async () => {
    store = new SqliteStore(join(mkdtempSync(join(tmpdir(), "bulwark-audit-")), "a.db"));
    await migrate(store, migrations);
    for (let i = 1; i <= 5; i++)
      await store.transaction((tx) =>
        appendAudit(tx, {
          actor: { type: "user", id: `u${i}` },
          action: "test.action",
          target: { type: "thing", id: `t${i}` },
          outcome: "success",
          details: { i },
        }),
      );
  });

  it("an intact chain verifies", async () => {
    assert.deepEqual(await verifyAuditChain(store), { entries: 5, checkpoints: 0, firstSeq: 1, lastSeq: 5 });
  });

  it("detects an edited entry", async () => {
    await store.run(`UPDATE audit_log SET outcome = 'failure' WHERE seq = 3`);
    assert.deepEqual((await verifyAuditChain(store)).problem, { seq: 3, problem: "hash-mismatch" });
  });

  it("detects a deleted entry (middle and tail)", async () => {
    await store.run(`DELETE FROM audit_log WHERE seq = 2`);
    assert.equal((await verifyAuditChain(store)).problem?.problem, "gap");
    await store.run(`DELETE FROM audit_log WHERE seq >= 3`);
    assert.equal((await verifyAuditChain(store)).problem?.problem, "head-mismatch");
  });

  it("detects an inserted entry even with a recomputed own hash", async () => {
    await store.run(`UPDATE audit_log SET seq = seq + 100 WHERE seq >= 3`);
    await store.run(`UPDATE audit_log SET seq = seq - 99 WHERE seq >= 100`);
    const row = await store.get<{ prev_hash: string; hash: string }>(
      `SELECT prev_hash, hash FROM audit_log WHERE seq = 2`,
    );
    await store.run(
      `INSERT INTO audit_log (seq, at, actor_type, actor_id, action, target_type, target_id, outcome, details, prev_hash, hash) VALUES (3, 0, 'user', 'x', 'forged', NULL, NULL, 'success', '{}', ?, ?)`,
      [row!.hash, "f".repeat(64)],
    );
    const result = await verifyAuditChain(store);
    assert.equal(result.problem?.seq, 3);
  });

  it("detects reordered entries", async () => {
    await store.run(`UPDATE audit_log SET seq = 100 WHERE seq = 2`);
    await store.run(`UPDATE audit_log SET seq = 2 WHERE seq = 3`);
    await store.run(`UPDATE audit_log SET seq = 3 WHERE seq = 100`);
    assert.equal((await verifyAuditChain(store)).problem?.problem, "broken-link");
  });

  it("canonical JSON sorts keys and drops undefined", () => {
    assert.equal(
      canonicalJson({ b: 1, a: [true, null, "x"], c: undefined, d: { z: 1, y: 2 } }),
      '{"a":[true,null,"x"],"b":1,"d":{"y":2,"z":1}}',
    );
  });
});
