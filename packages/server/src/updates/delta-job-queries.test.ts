import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { release, storeBackends } from "../../test/store-fixtures.ts";
import type { Store } from "../store/store.ts";
import {
  claimDeltaJob,
  deltaJobById,
  finishDeltaJob,
  giveUpDeltaJob,
  insertDeltaJob,
  nextClaimableDeltaJob,
  releaseDeltaJob,
  renewDeltaJob,
} from "./delta-job-queries.ts";

const LEASE = 30_000;

/** A pending zstd-seg job of `units` segments for release 1.1.0 of `product` against 1.0.0. */
async function pendingJob(store: Store, product: string, hashChar: string, units: number): Promise<string> {
  const base = await release(store, product, "1.0.0");
  const next = await release(store, product, "1.1.0");
  const id = randomUUID();
  await insertDeltaJob(store, {
    id,
    releaseId: next.id,
    productId: next.productId,
    artifactName: "fw.img",
    baseReleaseId: base.id,
    baseVersion: "1.0.0",
    baseSha256: hashChar.repeat(64),
    format: "zstd-seg",
    totalUnits: units,
  });
  return id;
}

/**
 * The claims behind background delta jobs (issue #15 item 10, `delta-jobs.ts`), on both stores:
 * one claim wins a race, a live claim is not taken, an expired one is, and a process whose claim
 * was taken over can neither renew nor end the job (so it never signs it a second time).
 */
for (const backend of storeBackends)
  describe(`delta job claims (${backend.name})`, () => {
    it("one claim wins; a live claim holds; an expired one is taken over and the old owner can no longer end it", async (t) => {
      const fixture = await backend.open(t);
      if (!fixture) return;
      const { store } = fixture;
      try {
        const id = await pendingJob(store, "Claims C1", "a", 4);
        const now = Date.now();
        assert.equal(await nextClaimableDeltaJob(store, "x", now, false), id);

        // Five processes race for it: one claim changes the row.
        const owners = ["a", "b", "c", "d", "e"];
        const won = await Promise.all(owners.map((o) => claimDeltaJob(store, id, o, now, LEASE, false)));
        assert.equal(won.filter(Boolean).length, 1, JSON.stringify(won));
        const first = owners[won.indexOf(true)]!;
        assert.ok(await renewDeltaJob(store, id, first, now + 1000, LEASE, 2));
        assert.deepEqual((await deltaJobById(store, id))!.progress, { done: 2, total: 4 });

        // Its lease still runs: no one else may take it (with leases, as on PostgreSQL)...
        assert.equal(await nextClaimableDeltaJob(store, "f", now + 2000, false), undefined);
        assert.equal(await claimDeltaJob(store, id, "f", now + 2000, LEASE, false), false);
        // ...except where one process uses the store (SQLite): another owner there is a dead process.
        assert.equal(await nextClaimableDeltaJob(store, "f", now + 2000, true), id);

        // Once the lease ran out, another process takes it over and starts again from 0.
        const later = now + 1000 + LEASE + 1;
        assert.ok(await claimDeltaJob(store, id, "f", later, LEASE, false));
        const taken = (await deltaJobById(store, id))!;
        assert.deepEqual([taken.owner, taken.attempts, taken.progress.done], ["f", 2, 0]);
        // The first owner, stalled, can neither renew nor end the job: its signing rolls back.
        assert.equal(await renewDeltaJob(store, id, first, later, LEASE, 3), false);
        assert.equal(await finishDeltaJob(store, id, first, { state: "ready", deltaId: "d1" }), false);
        assert.equal((await deltaJobById(store, id))!.state, "computing");
        // Positive control: the holder ends it.
        assert.ok(await finishDeltaJob(store, id, "f", { state: "ready", deltaId: "d2" }));
        const done = (await deltaJobById(store, id))!;
        assert.deepEqual(
          [done.state, done.deltaId, done.progress.done, done.leaseUntil],
          ["ready", "d2", 4, null],
        );
        assert.equal(await nextClaimableDeltaJob(store, "g", later + 10 * LEASE, true), undefined);
      } finally {
        await fixture.close();
      }
    });

    it("a graceful stop hands the job back without counting an attempt; giving up fails it with the reason", async (t) => {
      const fixture = await backend.open(t);
      if (!fixture) return;
      const { store } = fixture;
      try {
        const id = await pendingJob(store, "Claims C2", "b", 2);
        const now = Date.now();
        assert.ok(await claimDeltaJob(store, id, "a", now, LEASE, false));
        assert.equal(await releaseDeltaJob(store, id, "b"), false, "only its owner hands it back");
        assert.ok(await releaseDeltaJob(store, id, "a"));
        const back = (await deltaJobById(store, id))!;
        assert.deepEqual([back.state, back.owner, back.attempts], ["pending", null, 0]);
        assert.equal(await nextClaimableDeltaJob(store, "b", now, false), id);
        assert.ok(await giveUpDeltaJob(store, id, "started 3 times without finishing"));
        const failed = (await deltaJobById(store, id))!;
        assert.deepEqual([failed.state, failed.reason], ["failed", "started 3 times without finishing"]);
        assert.equal(await giveUpDeltaJob(store, id, "again"), false, "an ended job stays as it ended");
      } finally {
        await fixture.close();
      }
    });
  });
