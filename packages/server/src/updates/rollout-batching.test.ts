import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pino from "pino";
import { startTestServer, type TestServer, waitFor } from "../../../../test/helpers.ts";
import { publishedRelease } from "../../../../test/update-helpers.ts";
import { insertDevice, newDeviceId } from "../fleet/devices.ts";
import { groupByName } from "../fleet/groups.ts";
import type { Queryable, Store } from "../store/store.ts";
import { jobsOf } from "./deployment-jobs.ts";
import { REPORT_BATCH, updateJobs } from "./jobs-service.ts";
import { NOTIFY_BATCH } from "./rollout.ts";

/**
 * Issue #15 item 9: a rollout to thousands of devices costs a commit (an fsync) per batch of jobs,
 * not per job: notifying moves jobs to notified a batch per transaction, and device reports that
 * arrive together are applied together (group commit), each acknowledged only once stored.
 */
const DEVICES = 1200;

describe("rollout at scale: batched notification and group-committed reports", () => {
  let server: TestServer;
  let productId: string;
  let deploymentId: string;
  let transactions = 0;
  const deviceIds: string[] = [];

  before(async () => {
    server = await startTestServer();
    const product = await server.api<{ id: string }>("POST", "/api/v1/products", { name: "Meter M1" });
    productId = product.body.id;
    // Devices of the product, straight into the registry (no one connects: a notice to an offline
    // device is published all the same).
    const group = await groupByName(server.store, "default");
    await server.store.transaction(async (tx) => {
      for (let i = 0; i < DEVICES; i++) {
        const id = newDeviceId();
        await insertDevice(tx, { id, groupId: group!.id, enrolledVia: "test" });
        await tx.run(`UPDATE devices SET product = ? WHERE id = ?`, [productId, id]);
        deviceIds.push(id);
      }
    });
    // Counts the store's transactions (the real store, each call passed through).
    const store = server.store;
    const transaction = store.transaction.bind(store);
    store.transaction = <T>(fn: (tx: Queryable) => Promise<T>) => {
      transactions++;
      return transaction(fn);
    };
  });
  after(async () => {
    await server.close();
  });

  it("notifies every job of an all-at-once deployment in a transaction per batch, not per job", async () => {
    const releaseId = await publishedRelease(server, productId, "1.0.0");
    const before = transactions;
    const created = await server.api<{ id: string }>("POST", "/api/v1/deployments", {
      releaseId,
      group: "default",
      strategy: { kind: "all-at-once" },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    deploymentId = created.body.id;
    const jobs = await waitFor("every job notified", async () => {
      const res = await server.api<{ jobs: Record<string, number> }>(
        "GET",
        `/api/v1/deployments/${deploymentId}`,
      );
      return res.body.jobs.notified === DEVICES && res.body.jobs;
    });
    assert.equal(jobs.queued, 0);
    // The deployment's own transaction and ceil(N / NOTIFY_BATCH) batches, each making its jobs
    // and moving them to notified, plus whatever else the server committed meanwhile (far below
    // one per job).
    const used = transactions - before;
    assert.ok(used >= 1 + Math.ceil(DEVICES / NOTIFY_BATCH), `${used} transactions`);
    assert.ok(used < DEVICES / 20, `${used} transactions for ${DEVICES} jobs`);
  });

  it("applies reports that arrive together in one transaction each batch, each resolved once stored", async () => {
    const jobs = new Map((await jobsOf(server.store, deploymentId)).map((j) => [j.deviceId, j]));
    const service = updateJobs({
      store: server.store,
      channel: { publish: async () => {} },
      log: pino({ level: "silent" }),
    });
    const ids = deviceIds.slice(0, 600);
    const before = transactions;
    await Promise.all(
      ids.map(async (deviceId) => {
        const job = jobs.get(deviceId)!;
        await service.jobStatus(deviceId, job.id, { state: "downloading" });
        // Resolved only once committed: the state is stored when the report's promise resolves.
        const row = await server.store.get<{ state: string }>(
          `SELECT state FROM deployment_jobs WHERE id = ?`,
          [job.id],
        );
        assert.equal(row?.state, "downloading");
      }),
    );
    const used = transactions - before;
    assert.ok(used >= Math.ceil(ids.length / REPORT_BATCH), `${used} transactions`);
    assert.ok(used < ids.length / 20, `${used} transactions for ${ids.length} reports`);
    // Every transition stored once, in order.
    const events = await server.store.all<{ n: number | string }>(
      `SELECT COUNT(*) AS n FROM deployment_job_events WHERE deployment_id = ? AND to_state = 'downloading'`,
      [deploymentId],
    );
    assert.equal(Number(events[0]!.n), ids.length);
    await service.stop();
  });

  it("a batch whose transaction fails fails each of its reports (sent again, then stored); the next batch commits", async () => {
    const jobs = new Map((await jobsOf(server.store, deploymentId)).map((j) => [j.deviceId, j]));
    const store = server.store as Store;
    const service = updateJobs({
      store,
      channel: { publish: async () => {} },
      log: pino({ level: "silent" }),
    });
    const ids = deviceIds.slice(600, 640);
    const report = (deviceId: string) =>
      service.jobStatus(deviceId, jobs.get(deviceId)!.id, { state: "verifying" });
    const stateOf = async (deviceId: string) =>
      (
        await store.get<{ state: string }>(`SELECT state FROM deployment_jobs WHERE id = ?`, [
          jobs.get(deviceId)!.id,
        ])
      )?.state;
    // The first transaction fails (as a lost database connection would make it).
    const transaction = store.transaction;
    let failed = 0;
    store.transaction = <T>(fn: (tx: Queryable) => Promise<T>) => {
      if (failed === 0) {
        failed++;
        return Promise.reject(new Error("connection lost"));
      }
      return transaction.call(store, fn) as Promise<T>;
    };
    let results: PromiseSettledResult<void>[];
    try {
      // After a quiet spell the first report commits at once, alone; the others gather behind it.
      results = await Promise.allSettled(ids.map(report));
    } finally {
      store.transaction = transaction;
    }
    assert.equal(failed, 1);
    const rejected = results.flatMap((r, i) => (r.status === "rejected" ? [{ i, reason: r.reason }] : []));
    assert.deepEqual(
      rejected.map((r) => [r.i, (r.reason as Error).message]),
      [[0, "connection lost"]],
    );
    assert.equal(await stateOf(ids[0]!), "notified", "the failed report stored nothing");
    for (const id of ids.slice(1)) assert.equal(await stateOf(id), "verifying");
    // Sent again (the device got no acknowledgement), it is stored.
    await report(ids[0]!);
    assert.equal(await stateOf(ids[0]!), "verifying");
    await service.stop();
  });
});
