import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pino } from "pino";
import { tempPostgresStore } from "../../test/store-fixtures.ts";
import { oneDeviceDeployment } from "../../test/update-fixtures.ts";
import type { DeviceChannel } from "../fleet/device-channel.ts";
import { jobEvents, jobsOf } from "./deployment-jobs.ts";
import { advanceDeployment } from "./rollout.ts";

/**
 * Issue #15 item 7: the process running a rollout pass can die between moving a job to `notified`
 * and handing its announcement to the broker. Committed first, the job stayed `notified` and its
 * device, connected to another process, never heard of it (the scale-out test's other failure).
 * The announcement now goes out before the move commits. Real PostgreSQL and rollout engine; the
 * device channel is the port to the broker, here one that reports what the database holds when it
 * is called, and fails as a broker that went away does.
 */
describe("rollout: a job is announced before its move to notified commits (PostgreSQL)", () => {
  it("a failed announcement rolls its batch back (the job too); the next pass makes and announces the same job", async (t) => {
    const fixture = await tempPostgresStore(t);
    if (!fixture) return;
    const { store } = fixture;
    try {
      const { deviceId, deployment } = await oneDeviceDeployment(store, "Announcer A1");
      const committedState = async () =>
        (
          await store.get<{ state: string }>(`SELECT state FROM deployment_jobs WHERE device_id = ?`, [
            deviceId,
          ])
        )?.state;
      const seen: { state: string | undefined; jobId: string }[] = [];
      let brokerAway = true;
      const channel: Pick<DeviceChannel, "publish"> = {
        async publish(_deviceId, _kind, payload) {
          // Read on another pooled connection: what a process taking over would see now.
          seen.push({ state: await committedState(), jobId: (payload as { jobId: string }).jobId });
          if (brokerAway) throw new Error("broker away");
        },
      };
      const deps = { store, channel, log: pino({ level: "silent" }) };

      // The job is made in the transaction that announces it: another connection sees no job yet.
      await assert.rejects(advanceDeployment(deps, deployment.id), /broker away/);
      assert.deepEqual(
        seen.map((s) => s.state),
        [undefined],
      );
      assert.equal(await committedState(), undefined, "not left notified without an announcement");

      brokerAway = false;
      await advanceDeployment(deps, deployment.id);
      const [job] = await jobsOf(store, deployment.id);
      assert.equal(job?.state, "notified");
      // Both announcements name the same job (its id is computed from deployment and device).
      assert.deepEqual(
        seen.map((s) => [s.state, s.jobId]),
        [
          [undefined, job.id],
          [undefined, job.id],
        ],
      );
      assert.deepEqual(
        (await jobEvents(store, job.id)).map((e) => e.to_state),
        ["queued", "notified"],
      );
    } finally {
      await fixture.close();
    }
  });
});
