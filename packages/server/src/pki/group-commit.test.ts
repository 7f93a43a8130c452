import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { BulwarkError } from "@bulwark/sdk/errors";
import { SqliteStore } from "../store/sqlite.ts";
import type { Queryable } from "../store/store.ts";
import { GroupCommit } from "./group-commit.ts";

describe("GroupCommit: steps registered for the commit", () => {
  it("run once per key after every unit, inside the transaction; a unit that rolls back drops its own", async () => {
    const store = new SqliteStore(join(mkdtempSync(join(tmpdir(), "bulwark-gc-")), "t.db"));
    try {
      await store.run(`CREATE TABLE log (entry TEXT NOT NULL)`);
      const group = new GroupCommit(store, { windowMs: 50 });
      const step = (name: string) => async (tx: Queryable) => {
        // The step sees every unit's write of its transaction (as the CRL sees every revocation).
        const rows = await tx.all<{ entry: string }>(
          `SELECT entry FROM log WHERE entry LIKE 'unit%' ORDER BY entry`,
        );
        await tx.run(`INSERT INTO log (entry) VALUES (?)`, [
          `${name} saw ${rows.map((r) => r.entry).join(",")}`,
        ]);
      };
      const unit = (name: string, key: string, fail = false) =>
        group.transact(async (tx, atCommit) => {
          await tx.run(`INSERT INTO log (entry) VALUES (?)`, [name]);
          atCommit(key, step(`step-${key}-by-${name}`));
          if (fail) throw new BulwarkError("BW_ERR_CONFLICT", `${name} fails`);
          return name;
        });
      // Queued in the same tick, so they share one transaction.
      const outcomes = await Promise.allSettled([
        unit("unit1", "crl:a"),
        unit("unit2", "crl:a"),
        unit("unit3", "crl:b", true),
        unit("unit4", "crl:c"),
      ]);
      assert.deepEqual(
        outcomes.map((o) => o.status),
        ["fulfilled", "fulfilled", "rejected", "fulfilled"],
      );
      assert.match(String((outcomes[2] as PromiseRejectedResult).reason), /unit3 fails/);
      const log = (await store.all<{ entry: string }>(`SELECT entry FROM log ORDER BY rowid`)).map(
        (r) => r.entry,
      );
      assert.deepEqual(log, [
        "unit1",
        "unit2",
        "unit4",
        "step-crl:a-by-unit1 saw unit1,unit2,unit4",
        "step-crl:c-by-unit4 saw unit1,unit2,unit4",
      ]);
    } finally {
      await store.close();
    }
  });
});
