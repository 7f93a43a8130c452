import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { waitFor } from "../../../../test/helpers.ts";
import { release, tempPostgresStore } from "../../test/store-fixtures.ts";
import { createJob, jobById, jobEvents, jobsOf, transitionJob } from "./deployment-jobs.ts";
import { DEFAULT_SPEC } from "./deployment-spec.ts";
import { insertDeployment } from "./deployments.ts";
import { applyJobReport } from "./job-reports.ts";

/**
 * Two reports of one job applied at the same time (issue #15 item 7: the job left `installing` on
 * the surviving process of the scale-out test). Aedes handles the packets of one socket read
 * concurrently, and a device that reconnects after a failover sends its queued `installing` and
 * `succeeded` together. In PostgreSQL the second report's conditional UPDATE waits for the first
 * one's row lock, then finds the row no longer in the state it had read.
 */
describe("job reports applied concurrently (PostgreSQL)", () => {
  it("applies a report that lost the race to a concurrent forward move against the state now committed", async (t) => {
    const fixture = await tempPostgresStore(t);
    if (!fixture) return;
    const { store } = fixture;
    try {
      const deviceId = "dev-race-1";
      const rel = await release(store, "Racer R1", "1.0.0");
      const deployment = await insertDeployment(store, {
        releaseId: rel.id,
        productId: rel.productId,
        target: { devices: [deviceId] },
        spec: DEFAULT_SPEC,
        createdBy: null,
      });
      await store.transaction((tx) => createJob(tx, deployment.id, deviceId, 0, 60_000));
      const [job] = await jobsOf(store, deployment.id);
      assert.ok(job);
      await store.transaction((tx) =>
        transitionJob(tx, job, "notified", { actor: "system", deadlineAt: job.deadlineAt }),
      );
      for (const state of ["downloading", "verifying"])
        assert.equal(
          (await store.transaction((tx) => applyJobReport(tx, deviceId, job.id, { state }))).outcome,
          "recorded",
        );

      // Report 1 (`installing`) moves the job and holds its transaction open.
      let release1!: () => void;
      const held = new Promise<void>((resolve) => {
        release1 = resolve;
      });
      let applied1!: (pid: number) => void;
      const first = new Promise<number>((resolve) => {
        applied1 = resolve;
      });
      const report1 = store.transaction(async (tx) => {
        const outcome = await applyJobReport(tx, deviceId, job.id, { state: "installing" });
        const { pid } = (await tx.get<{ pid: number }>(`SELECT pg_backend_pid() AS pid`))!;
        applied1(pid);
        await held;
        return outcome;
      });
      const holder = await first;
      // Report 2 (`succeeded`) reads the committed `verifying` and blocks on the row lock.
      const report2 = store.transaction((tx) => applyJobReport(tx, deviceId, job.id, { state: "succeeded" }));
      await waitFor("report 2 waiting for report 1's row lock", async () => {
        const row = await store.get<{ n: number | string }>(
          `SELECT COUNT(*) AS n FROM pg_stat_activity WHERE ? = ANY(pg_blocking_pids(pid))`,
          [holder],
        );
        return Number(row?.n) > 0;
      });
      release1();
      assert.equal((await report1).outcome, "recorded");
      assert.equal((await report2).outcome, "recorded", "the later report is not lost");
      assert.equal((await jobById(store, job.id))?.state, "succeeded");
      assert.deepEqual(
        (await jobEvents(store, job.id)).map((e) => [e.from_state, e.to_state]),
        [
          [null, "queued"],
          ["queued", "notified"],
          ["notified", "downloading"],
          ["downloading", "verifying"],
          ["verifying", "installing"],
          ["installing", "succeeded"],
        ],
      );
    } finally {
      await fixture.close();
    }
  });
});
