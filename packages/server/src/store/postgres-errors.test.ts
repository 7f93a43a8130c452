import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { it } from "node:test";
import pg from "pg";
import { waitFor } from "../../../../test/helpers.ts";
import { DATABASE_URL, needServices } from "../../../../test/services.ts";
import { PostgresStore } from "./postgres.ts";

it("a connection cut while a transaction holds it fails that transaction, not the process; the store keeps serving", async (t) => {
  if (!(await needServices(t, ["postgres"]))) return;
  const schema = `bw_test_${randomBytes(6).toString("hex")}`;
  const store = await PostgresStore.open({ url: DATABASE_URL, schema });
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  // pg emits 'error' on a checked-out client that loses its connection between queries; with no
  // listener that is an uncaught exception, which ends the process.
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => uncaught.push(error);
  process.on("uncaughtException", onUncaught);
  try {
    await assert.rejects(
      store.transaction(async (tx) => {
        const row = await tx.get<{ pid: number }>(`SELECT pg_backend_pid() AS pid`);
        await admin.query(`SELECT pg_terminate_backend($1)`, [row!.pid]);
        // Gone from the server while this transaction waits between queries.
        await waitFor("backend gone", async () => {
          const res = await admin.query(`SELECT 1 FROM pg_stat_activity WHERE pid = $1`, [row!.pid]);
          return res.rowCount === 0;
        });
        await tx.get(`SELECT 1 AS ok`);
      }),
      /terminat|not queryable|closed/i,
    );
    assert.deepEqual(uncaught, []);
    assert.deepEqual(await store.get(`SELECT 1 AS ok`), { ok: 1 });
  } finally {
    process.off("uncaughtException", onUncaught);
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
    await store.close();
  }
});
