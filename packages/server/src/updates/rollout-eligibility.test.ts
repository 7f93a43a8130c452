import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { pino } from "pino";
import { waitFor } from "../../../../test/helpers.ts";
import { release, tempStore } from "../../test/store-fixtures.ts";
import type { DeviceChannel } from "../fleet/device-channel.ts";
import { insertDevice } from "../fleet/devices.ts";
import type { Store } from "../store/store.ts";
import { jobsOf } from "./deployment-jobs.ts";
import { DEFAULT_SPEC } from "./deployment-spec.ts";
import { insertDeployment } from "./deployments.ts";
import { updateJobs } from "./jobs-service.ts";
import { advanceDeployment, type KeptEligibility, type RolloutDeps } from "./rollout.ts";

async function deviceIn(store: Store, groupId: string, productId: string): Promise<string> {
  const id = randomUUID();
  await insertDevice(store, { id, groupId, enrolledVia: "test" });
  await store.run(`UPDATE devices SET product = ? WHERE id = ?`, [productId, id]);
  return id;
}

/**
 * Issue #15 item 9: passes of a running deployment count with an eligibility read kept from a
 * recent pass (the jobs runtime's `eligibility` map) instead of reading every device each time;
 * admitting reads afresh first. Real SQLite store and rollout engine; the channel only records.
 */
describe("rollout: a kept eligibility read", () => {
  it("is counted with until it expires (a device joining meanwhile waits for it), and admission decides on the devices as they are now", async () => {
    const { store, close } = await tempStore();
    try {
      const rel = await release(store, "Kept K1", "1.0.0");
      const groupId = randomUUID();
      await store.run(
        `INSERT INTO device_groups (id, name, provisioning_policy, created_at) VALUES (?, 'lab', '{}', ?)`,
        [groupId, Date.now()],
      );
      const first = await deviceIn(store, groupId, rel.productId);
      const deployment = await insertDeployment(store, {
        releaseId: rel.id,
        productId: rel.productId,
        target: { group: "lab" },
        spec: DEFAULT_SPEC,
        createdBy: null,
      });
      const announced: string[] = [];
      const channel: Pick<DeviceChannel, "publish"> = {
        async publish(deviceId) {
          announced.push(deviceId);
        },
      };
      const eligibility = new Map<string, KeptEligibility>();
      const deps: RolloutDeps = { store, channel, log: pino({ level: "silent" }), eligibility };
      const jobDevices = async () => (await jobsOf(store, deployment.id)).map((j) => j.deviceId).sort();

      await advanceDeployment(deps, deployment.id);
      assert.deepEqual(announced, [first]);
      const kept = eligibility.get(deployment.id);
      assert.deepEqual(kept?.devices, [first], "the first pass kept its read");
      assert.ok(kept.until > Date.now());

      // A device joins the group: a pass within the kept read's time does not see it…
      const late = await deviceIn(store, groupId, rel.productId);
      await advanceDeployment(deps, deployment.id);
      assert.deepEqual(await jobDevices(), [first]);
      // …the next one after it expired does (positive control of the same step).
      kept.until = 0;
      await advanceDeployment(deps, deployment.id);
      assert.deepEqual(await jobDevices(), [first, late].sort());
      assert.deepEqual(eligibility.get(deployment.id)?.devices.sort(), [first, late].sort());

      // Admission reads afresh: a kept read naming two devices not yet admitted, one of them
      // disabled since, admits only the active one.
      const disabled = await deviceIn(store, groupId, rel.productId);
      const active = await deviceIn(store, groupId, rel.productId);
      eligibility.set(deployment.id, {
        devices: [first, late, disabled, active],
        until: Date.now() + 60_000,
      });
      await store.run(`UPDATE devices SET status = 'disabled' WHERE id = ?`, [disabled]);
      await advanceDeployment(deps, deployment.id);
      assert.deepEqual(await jobDevices(), [first, late, active].sort());
      assert.ok(!announced.includes(disabled));
      assert.deepEqual(
        eligibility.get(deployment.id)?.devices.sort(),
        [first, late, active].sort(),
        "the fresh read replaced the kept one",
      );

      // An ended deployment's kept read is dropped by its next pass.
      await store.run(`UPDATE deployments SET status = 'canceled' WHERE id = ?`, [deployment.id]);
      await advanceDeployment(deps, deployment.id);
      assert.equal(eligibility.has(deployment.id), false);
    } finally {
      await close();
    }
  });

  it("the jobs runtime drops the kept read of a deployment no longer running, and keeps a running one's", async () => {
    const { store, close } = await tempStore();
    const jobs = updateJobs({ store, channel: { publish: async () => {} }, log: pino({ level: "silent" }) });
    try {
      const rel = await release(store, "Kept K2", "1.0.0");
      const groupId = randomUUID();
      await store.run(
        `INSERT INTO device_groups (id, name, provisioning_policy, created_at) VALUES (?, 'lab', '{}', ?)`,
        [groupId, Date.now()],
      );
      const device = await deviceIn(store, groupId, rel.productId);
      const deploy = () =>
        insertDeployment(store, {
          releaseId: rel.id,
          productId: rel.productId,
          target: { group: "lab" },
          spec: DEFAULT_SPEC,
          createdBy: null,
        });
      const running = await deploy();
      const ended = await deploy();
      await store.run(`UPDATE deployments SET status = 'canceled' WHERE id = ?`, [ended.id]);
      const kept = jobs.rollout.eligibility!;
      kept.set(ended.id, { devices: [device], until: Date.now() + 60_000 });
      jobs.start(20);
      // The running deployment's pass keeps its read; the ended one's is dropped by the schedule.
      await waitFor("the running deployment's read kept", async () => kept.has(running.id));
      await waitFor("the ended deployment's read dropped", async () => !kept.has(ended.id));
      assert.deepEqual(kept.get(running.id)?.devices, [device]);
    } finally {
      await jobs.stop();
      await close();
    }
  });
});
