import assert from "node:assert/strict";
import { it } from "node:test";
import { storeBackends } from "../../test/store-fixtures.ts";
import type { SqlValue, Store } from "../store/store.ts";
import {
  appendAudit,
  FULL_VERIFICATION_MAX_AGE_MS,
  verifiedPoint,
  verifyAuditChainFull,
  verifyAuditChainIncremental,
} from "./audit-log.ts";

/**
 * Incremental verification (issue #16, the Annex I matrix's (2)(l)): only the entries after the
 * last verified point are walked; tampering after the point is caught at once, deletion before it
 * at once, and an edit in place before it by the next full verification (periodic, or asked for).
 */
async function append(store: Store, n: number): Promise<void> {
  for (let i = 0; i < n; i++)
    await store.transaction((tx) =>
      appendAudit(tx, {
        actor: { type: "system" },
        action: "test.action",
        outcome: "success",
        details: { i },
      }),
    );
}

const T0 = 1_000_000_000_000; // the tests' clock: never the wall clock

for (const backend of storeBackends)
  it(`incremental audit verification on ${backend.name}`, async (ctx) => {
    const t = await backend.open(ctx);
    if (!t) return;
    const store = t.store;
    const base = Number((await store.get<{ seq: number }>(`SELECT seq FROM audit_head WHERE id = 1`))!.seq);
    try {
      await append(store, 5);
      const head = base + 5;

      await ctx.test("the first run is full and records the head as the verified point", async () => {
        const first = await verifyAuditChainIncremental(store, { now: T0 });
        assert.equal(first.mode, "full");
        assert.equal(first.problem, undefined);
        assert.equal(first.lastSeq, head);
        const point = await verifiedPoint(store);
        assert.deepEqual([point?.seq, point?.fullAt], [head, T0]);
      });

      await ctx.test("later runs walk only the new entries", async () => {
        const none = await verifyAuditChainIncremental(store, { now: T0 + 1 });
        assert.deepEqual(
          [none.mode, none.entries, none.from?.seq, none.problem],
          ["incremental", 0, head, undefined],
        );
        await append(store, 3);
        const three = await verifyAuditChainIncremental(store, { now: T0 + 2 });
        assert.deepEqual(
          [three.mode, three.entries, three.firstSeq, three.lastSeq, three.fullAt],
          ["incremental", 3, head + 1, head + 3, T0],
        );
        assert.equal((await verifiedPoint(store))?.seq, head + 3, "the point moves to the new head");
      });

      await ctx.test("tampering after the point is caught by the next incremental run", async () => {
        const point = (await verifiedPoint(store))!.seq;
        await append(store, 2);
        await store.run(`UPDATE audit_log SET outcome = 'failure' WHERE seq = ?`, [point + 1]);
        const caught = await verifyAuditChainIncremental(store, { now: T0 + 3 });
        assert.equal(caught.mode, "incremental");
        assert.deepEqual(caught.problem, { seq: point + 1, problem: "hash-mismatch" });
        assert.equal(await verifiedPoint(store), undefined, "a failure forgets the point");
        const again = await verifyAuditChainIncremental(store, { now: T0 + 4 });
        assert.deepEqual(
          [again.mode, again.problem?.seq],
          ["full", point + 1],
          "so the next run is full and fails too",
        );
        await store.run(`UPDATE audit_log SET outcome = 'success' WHERE seq = ?`, [point + 1]);
        assert.equal((await verifyAuditChainFull(store, undefined, T0 + 5)).problem, undefined, "repaired");
      });

      await ctx.test(
        "an edit in place before the point is caught by the full verification, not the incremental one",
        async () => {
          const point = (await verifiedPoint(store))!;
          assert.equal(point.fullAt, T0 + 5);
          const victim = base + 2;
          await store.run(`UPDATE audit_log SET details = '{"edited":true}' WHERE seq = ?`, [victim]);
          await append(store, 1);
          // Within the age limit the incremental run reads only the new entry: the edit is not read.
          const blind = await verifyAuditChainIncremental(store, { now: T0 + 6 });
          assert.deepEqual([blind.mode, blind.entries, blind.problem], ["incremental", 1, undefined]);
          // Past the age limit it walks everything, and catches it.
          const aged = await verifyAuditChainIncremental(store, {
            now: point.fullAt + FULL_VERIFICATION_MAX_AGE_MS + 1,
          });
          assert.deepEqual([aged.mode, aged.problem], ["full", { seq: victim, problem: "hash-mismatch" }]);
          // An explicit full verification catches it as well, and so does every run after it.
          const full = await verifyAuditChainFull(store, undefined, T0 + 7);
          assert.deepEqual(full.problem, { seq: victim, problem: "hash-mismatch" });
          const next = await verifyAuditChainIncremental(store, { now: T0 + 8 });
          assert.deepEqual([next.mode, next.problem?.seq], ["full", victim]);
          await store.run(`UPDATE audit_log SET details = '{"i":1}' WHERE seq = ?`, [victim]);
          assert.equal((await verifyAuditChainFull(store, undefined, T0 + 9)).problem, undefined, "repaired");
        },
      );

      await ctx.test("a deleted entry or a rewritten point before the point is caught at once", async () => {
        const point = (await verifiedPoint(store))!;
        const saved = await store.get<Record<string, SqlValue>>(`SELECT * FROM audit_log WHERE seq = ?`, [
          base + 3,
        ]);
        await store.run(`DELETE FROM audit_log WHERE seq = ?`, [base + 3]);
        const gap = await verifyAuditChainIncremental(store, { now: T0 + 10 });
        assert.deepEqual([gap.mode, gap.problem], ["incremental", { seq: point.seq, problem: "gap" }]);
        await store.run(
          `INSERT INTO audit_log (seq, at, actor_type, actor_id, action, target_type, target_id, outcome, details, prev_hash, hash)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          [
            "seq",
            "at",
            "actor_type",
            "actor_id",
            "action",
            "target_type",
            "target_id",
            "outcome",
            "details",
            "prev_hash",
            "hash",
          ].map((column) => saved![column] ?? null),
        );
        assert.equal((await verifyAuditChainFull(store, undefined, T0 + 11)).problem, undefined, "restored");
        const now = (await verifiedPoint(store))!;
        await store.run(`UPDATE audit_log SET hash = ? WHERE seq = ?`, ["0".repeat(64), now.seq]);
        const moved = await verifyAuditChainIncremental(store, { now: T0 + 12 });
        assert.deepEqual(moved.problem, { seq: now.seq, problem: "checkpoint-mismatch" });
        await store.run(`UPDATE audit_log SET hash = ? WHERE seq = ?`, [now.hash, now.seq]);
        assert.equal((await verifyAuditChainFull(store, undefined, T0 + 13)).problem, undefined, "restored");
      });

      await ctx.test("a log cut back past a signed checkpoint, head row and all, is caught", async () => {
        const point = (await verifiedPoint(store))!;
        await append(store, 2);
        const last = (await store.get<{ seq: number; hash: string }>(
          `SELECT seq, hash FROM audit_head WHERE id = 1`,
        ))!;
        // A checkpoint of the newer head (the signature is not checked without the public key).
        await store.run(
          `INSERT INTO audit_checkpoints (seq, hash, at, key_id, signature) VALUES (?, ?, ?, ?, ?)`,
          [Number(last.seq), last.hash, T0, "k", "AA=="],
        );
        await store.run(`DELETE FROM audit_log WHERE seq > ?`, [point.seq]);
        await store.run(`UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`, [point.seq, point.hash]);
        const cut = await verifyAuditChainIncremental(store, { now: T0 + 14 });
        assert.deepEqual(
          [cut.mode, cut.problem],
          ["incremental", { seq: point.seq + 1, problem: "truncated" }],
        );
      });
    } finally {
      await t.close();
    }
  });
