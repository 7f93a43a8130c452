import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Fleet, startFleet } from "../../bench/fleet-sim/fleet.ts";
import { type BenchSetup, publishImageRelease, setUpBench } from "../../bench/fleet-sim/harness.ts";
import type { SimDevice } from "../../bench/fleet-sim/identities.ts";
import { startServerProcess } from "../../bench/fleet-sim/processes.ts";
import { SqliteStore } from "../../packages/server/src/store/sqlite.ts";
import { waitFor } from "../helpers.ts";
import { assertEveryTransitionOnce } from "../update-helpers.ts";

/**
 * Issue #15 item 7: the server is killed with SIGKILL in the middle of a rollout to 1,000
 * simulated devices (the fleet simulator: each device its own key and certificate, MQTT over
 * mutual TLS 1.3, the simulator's update client doing what the agent reports, downloading the
 * target over mutual-TLS HTTPS and checking its hash) and restarted on the same data directory;
 * the devices reconnect. No reported status is lost, every job ends succeeded, every transition is
 * stored once, and no device installs twice. BULWARK_KILL_TEST_DEVICES sets another count.
 */
const DEVICES = Number(process.env.BULWARK_KILL_TEST_DEVICES ?? 1000);
const PRODUCT = "Killed K1";

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

describe(`server SIGKILL in the middle of a rollout to ${DEVICES} simulated devices`, () => {
  let setup: BenchSetup;
  let fleet: Fleet | undefined;
  const ports = { http: 0, mqtt: 0 };

  before(async () => {
    ports.http = await freePort();
    ports.mqtt = await freePort();
    setup = await setUpBench({
      devices: DEVICES,
      processes: 1,
      ports,
      // The devices' inventory product (by name, as the registry allows), in bulk.
      afterIssue: async (store) => {
        await store.run(`UPDATE devices SET product = ?`, [PRODUCT]);
      },
    });
  });
  after(async () => {
    await fleet?.close();
    await setup?.cleanup();
  });

  it("resumes after restart with no status lost and no device installing twice", async (t) => {
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await setup.api(setup.servers[0]!, method, path, body);
      assert.ok(res.status === 200 || res.status === 201, `${method} ${path}: ${JSON.stringify(res.body)}`);
      return res.body as Record<string, unknown>;
    };
    const image = randomBytes(64 * 1024);
    const { releaseId } = await publishImageRelease(call, PRODUCT, image);

    fleet = await startFleet({
      file: setup.file,
      devices: DEVICES,
      ports: [ports.mqtt],
      caPem: setup.rootPem,
      update: {
        behaviour: "agent",
        httpsPorts: [ports.http],
        target: { sha256: createHash("sha256").update(image).digest("hex"), length: image.length },
        downloadConcurrency: 16,
        reconnect: true,
        // Spread each job's steps, so that the kill finds jobs in every state.
        stepDelayMs: [20, 220],
      },
    });
    assert.equal(fleet.connected, DEVICES, String(fleet.firstError));

    // Two waves, the second opened by the first's success gate: the kill comes in the first, with
    // jobs notified, in progress and done, and half the devices still to admit after the restart.
    const id = (
      await call("POST", "/api/v1/deployments", {
        releaseId,
        group: "default",
        strategy: { kind: "waves", waves: [50, 100], successGate: 1, pauseAfterWave: false },
      })
    ).id as string;
    const progress = async () =>
      (await call("GET", `/api/v1/deployments/${id}`)).jobs as Record<string, number | undefined>;
    await waitFor(
      "a third succeeded",
      async () => ((await progress()).succeeded ?? 0) >= DEVICES / 3,
      120_000,
    );
    const atKillStored = await progress();
    const server = setup.servers[0]!;
    server.child.kill("SIGKILL");
    await new Promise((resolve) => server.child.once("exit", resolve));
    const atKill = fleet.tally().succeeded;
    t.diagnostic(
      `at the kill: jobs ${JSON.stringify(atKillStored)}; ${atKill} devices acknowledged succeeded`,
    );
    // Killed mid-rollout: devices still to admit, and jobs in progress.
    const admitted = Object.values(atKillStored).reduce((a: number, n) => a + (n ?? 0), 0);
    assert.ok(admitted < DEVICES, `${admitted} of ${DEVICES} admitted at the kill`);
    assert.ok(atKill < admitted, "jobs in progress at the kill");
    setup.servers[0] = await startServerProcess(setup.args);
    const done = await waitFor(
      "all succeeded after the restart",
      async () => {
        const jobs = await progress();
        return jobs.succeeded === DEVICES && jobs;
      },
      150_000,
    );
    assert.equal((done.failed ?? 0) + (done.timed_out ?? 0) + (done.canceled ?? 0), 0);
    // Every device's last report acknowledged (a report lost to the kill was made again).
    await fleet.reached("succeeded", DEVICES, 30_000);
    const after = fleet.tally();
    t.diagnostic(
      `${after.jobsCutOff} devices cut off mid-job, ${after.reconnects} reconnects, ${after.reportsResent} reports re-sent; ` +
        `downloads: ${after.downloadFailures} failed attempts, ${after.downloadsResumed} resumed, ${after.downloadsRestarted} restarted`,
    );

    // The stored record, read from the server's database: one job per device, and each job's
    // transitions every state once, in order. None is missing: a report is stored before its PUBACK,
    // and the simulator, like the agent's outbox, sends a report the killed process had not
    // acknowledged again after the restart.
    const store = new SqliteStore(join(setup.dir, "data", "bulwark.db"));
    let jobOf: Map<string, string>;
    try {
      jobOf = await assertEveryTransitionOnce(store, id, DEVICES);
    } finally {
      await store.close();
    }

    // No device ran an install twice: each device ran exactly its own stored job, once.
    const stats = await fleet.stats();
    const devices = readFileSync(setup.file, "utf8")
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as SimDevice).deviceId);
    assert.deepEqual(new Set(stats.map((s) => s.deviceId)), new Set(devices));
    for (const s of stats)
      assert.deepEqual(s.installs, { [jobOf.get(s.deviceId)!]: 1 }, `${s.deviceId} installed its job once`);
  });
});
