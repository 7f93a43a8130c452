import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import type { JobNotify } from "@bulwark/sdk/wire/jobs";
import { pino } from "pino";
import { release, tempPostgresStore } from "../../test/store-fixtures.ts";
import { oneDeviceDeployment } from "../../test/update-fixtures.ts";
import type { DeviceChannel } from "../fleet/device-channel.ts";
import { createJob, jobById, jobEvents, jobsOf, transitionJob } from "./deployment-jobs.ts";
import { DEFAULT_SPEC } from "./deployment-spec.ts";
import { deploymentById, insertDeployment } from "./deployments.ts";
import { updateJobs } from "./jobs-service.ts";
import { advanceDeployment, endDeployment } from "./rollout.ts";

/**
 * Issue #15 follow-up: a deployment's end committed first and its devices told afterwards lost the
 * cancel for a device that was offline (or connected to a process that died in between): it went
 * on with a job the server had ended. The cancel now goes to the broker before the commit, and a
 * device that did not acknowledge it gets it again each time it subscribes to `jobs/notify`.
 * Real PostgreSQL and rollout engine; the device channel is the port to the broker, here one that
 * records what it is handed (and what the database held then) and delivers only while the device
 * is connected.
 */
describe("deployment cancel: the notice reaches a device offline at cancel time (PostgreSQL)", () => {
  it("sends the cancel before the commit and again on subscribe until the device acknowledges it", async (t) => {
    const fixture = await tempPostgresStore(t);
    if (!fixture) return;
    const { store } = fixture;
    t.after(() => fixture.close());
    const { rel, deviceId, deployment } = await oneDeviceDeployment(store, "Canceler C1");
    let online = true;
    const delivered: { jobId: string; state: string }[] = [];
    const handed: { jobId: string; state: string; committed: string | undefined }[] = [];
    const channel: Pick<DeviceChannel, "publish"> = {
      async publish(_deviceId, _kind, payload) {
        const { jobId, state } = payload as JobNotify;
        // Read on another pooled connection: what another process sees now.
        const committed = (
          await store.get<{ state: string }>(`SELECT state FROM deployment_jobs WHERE id = ?`, [jobId])
        )?.state;
        handed.push({ jobId, state, committed });
        if (online) delivered.push({ jobId, state });
      },
    };
    const jobs = updateJobs({ store, channel, log: pino({ level: "silent" }) });
    await advanceDeployment(jobs.rollout, deployment.id);
    const [job] = await jobsOf(store, deployment.id);
    assert.equal(job?.state, "notified");
    assert.deepEqual(delivered, [{ jobId: job.id, state: "notified" }]);

    // The device goes offline; the operator cancels.
    online = false;
    const canceled = await endDeployment(
      jobs.rollout,
      (await deploymentById(store, deployment.id))!,
      { from: ["running"], to: "canceled", reason: "test" },
      "operator:test",
      (n) => ({
        actor: { type: "system" },
        action: "deployment.cancel",
        target: { type: "deployment", id: deployment.id },
        outcome: "success",
        details: { canceled: n },
      }),
    );
    assert.equal(canceled, 1);
    assert.equal((await jobById(store, job.id))?.state, "canceled");
    // Handed to the broker while the job was still open in the database: before the commit.
    assert.deepEqual(handed.at(-1), { jobId: job.id, state: "canceled", committed: "notified" });
    assert.deepEqual(delivered, [{ jobId: job.id, state: "notified" }], "the offline device missed it");

    // The device comes back and subscribes: it gets the cancel.
    online = true;
    await jobs.subscribed(deviceId);
    assert.deepEqual(delivered.at(-1), { jobId: job.id, state: "canceled" });
    // Another device's acknowledgement does not count; a second subscribe sends it again.
    await jobs.jobStatus(randomUUID(), job.id, { state: "canceled" });
    await jobs.subscribed(deviceId);
    assert.deepEqual(
      delivered.map((d) => d.state),
      ["notified", "canceled", "canceled"],
    );

    // The device acknowledges: the job's state and history stay as they were.
    await jobs.jobStatus(deviceId, job.id, { state: "canceled" });
    assert.equal((await jobById(store, job.id))?.state, "canceled");
    assert.deepEqual(
      (await jobEvents(store, job.id)).map((e) => e.to_state),
      ["queued", "notified", "canceled"],
    );
    // Positive control: the device's other open job is announced on its next subscribe; the
    // acknowledged cancel is not sent again.
    const other = await insertDeployment(store, {
      releaseId: (await release(store, "Canceler C1", "1.0.1")).id,
      productId: rel.productId,
      target: { devices: [deviceId] },
      spec: DEFAULT_SPEC,
      createdBy: null,
    });
    await store.transaction((tx) => createJob(tx, other.id, deviceId, 0, 60_000));
    const [otherJob] = await jobsOf(store, other.id);
    assert.ok(otherJob);
    await store.transaction((tx) =>
      transitionJob(tx, otherJob, "notified", { actor: "system", deadlineAt: otherJob.deadlineAt }),
    );
    await jobs.subscribed(deviceId);
    assert.deepEqual(delivered.slice(3), [{ jobId: otherJob.id, state: "notified" }]);
    await jobs.stop();
  });
});
