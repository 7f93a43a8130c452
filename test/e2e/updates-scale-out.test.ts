import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { type Fleet, startFleet } from "../../bench/fleet-sim/fleet.ts";
import { type BenchSetup, publishImageRelease, setUpBench } from "../../bench/fleet-sim/harness.ts";
import type { SimDevice } from "../../bench/fleet-sim/identities.ts";
import { waitFor } from "../helpers.ts";
import { DATABASE_URL, needServices, REDIS_URL } from "../services.ts";
import { assertEveryTransitionOnce } from "../update-helpers.ts";

/**
 * Issue #15 item 7: two server processes over one PostgreSQL (and Redis) run one rollout to 1,000
 * simulated devices (the fleet simulator: each device its own key and certificate, MQTT over
 * mutual TLS 1.3, the simulator's update client reporting what the agent reports and downloading
 * the target over mutual-TLS HTTPS while checking its hash), half of them on each process. Either
 * process is killed with SIGKILL midway: A (where the rollout was created) or B. The devices that
 * were on it fail over to the other (jittered backoff, subscribe again, re-send the reports not
 * acknowledged, resume or restart the download there); the survivor takes the deployment over
 * (the per-deployment lock is a PostgreSQL advisory lock, every change a conditional UPDATE) and
 * the rollout ends consistent: every job succeeded once, every transition stored once and in
 * order, no device installing twice. BULWARK_SCALE_TEST_DEVICES sets another count.
 */
const DEVICES = Number(process.env.BULWARK_SCALE_TEST_DEVICES ?? 1000);
const PRODUCT = "Scaled S1";

describe(`updates scale-out: one rollout to ${DEVICES} simulated devices over two processes, one killed`, () => {
  for (const victim of ["A", "B"] as const)
    it(`${victim} killed: its devices fail over and finish on the survivor, every job succeeded once and every transition stored once`, {
      timeout: 300_000,
    }, async (t) => {
      if (!(await needServices(t, ["postgres", "redis"]))) return;
      const began = performance.now();
      const phase = (what: string) =>
        t.diagnostic(`${((performance.now() - began) / 1000).toFixed(1)} s: ${what}`);
      let setup: BenchSetup | undefined;
      let fleet: Fleet | undefined;
      try {
        setup = await setUpBench({
          devices: DEVICES,
          processes: 2,
          databaseUrl: DATABASE_URL,
          redisUrl: REDIS_URL,
          // Short heartbeats, so the survivor finds the killed process dead within about a second.
          serverEnv: { BULWARK_HEARTBEAT_MS: "300" },
          afterIssue: async (store) => {
            await store.run(`UPDATE devices SET product = ?`, [PRODUCT]);
          },
        });
        const bench = setup;
        phase("two processes up, identities issued");
        const [a, b] = bench.servers as [(typeof bench.servers)[0], (typeof bench.servers)[0]];
        const killedIndex = victim === "A" ? 0 : 1;
        const survivorIndex = 1 - killedIndex;
        const [killed, survivor] = victim === "A" ? [a, b] : [b, a];
        const call = async (server: typeof a, method: string, path: string, body?: unknown) => {
          const res = await bench.api(server, method, path, body);
          assert.ok(
            res.status === 200 || res.status === 201,
            `${method} ${path}: ${JSON.stringify(res.body)}`,
          );
          return res.body as Record<string, unknown>;
        };
        // The release, published through A.
        const image = randomBytes(64 * 1024);
        const { releaseId } = await publishImageRelease(
          (method: string, path: string, body?: unknown) => call(a, method, path, body),
          PRODUCT,
          image,
        );

        // Device i starts on process i mod 2 (A, B) and fails over to the other.
        const httpsPort = (server: typeof a) => Number(new URL(server.httpUrl).port);
        fleet = await startFleet({
          file: bench.file,
          devices: DEVICES,
          ports: [a.mqttPort, b.mqttPort],
          caPem: bench.rootPem,
          update: {
            behaviour: "agent",
            httpsPorts: [httpsPort(a), httpsPort(b)],
            target: { sha256: createHash("sha256").update(image).digest("hex"), length: image.length },
            downloadConcurrency: 32,
            reconnect: true,
            // The first attempt within a second (500 devices spread over it, not one tick), then up to 4 s.
            reconnectBackoffMs: [1000, 4000],
            // Spread each job's steps, so that the kill finds jobs in every state.
            stepDelayMs: [20, 220],
          },
        });
        assert.equal(fleet.connected, DEVICES, String(fleet.firstError));
        phase("devices connected");

        // Two waves, the second opened by the first's success gate: the kill comes early in the
        // first, with jobs notified, in progress and done, and the second for the survivor to admit.
        const id = (
          await call(a, "POST", "/api/v1/deployments", {
            releaseId,
            group: "default",
            strategy: { kind: "waves", waves: [50, 100], successGate: 1, pauseAfterWave: false },
          })
        ).id as string;
        const progress = async () =>
          (await call(survivor, "GET", `/api/v1/deployments/${id}`)).jobs as Record<
            string,
            number | undefined
          >;
        // The kill comes while the victim's own devices are at work in wave 1 (20 of them succeeded,
        // at least 10 between downloading and installing); read from the store, device i having
        // started on process i mod 2. (A count over the whole fleet can be reached by the other
        // process's devices alone, with none at work on the victim.)
        const homes = new Map(
          readFileSync(bench.file, "utf8")
            .trim()
            .split("\n")
            .map((line, i) => [(JSON.parse(line) as SimDevice).deviceId, i % 2]),
        );
        const watch = await bench.openStore();
        let atKill: Record<string, number>;
        try {
          atKill = await waitFor(
            "the killed process's devices at work",
            async () => {
              const counts: Record<string, number> = { jobs: 0, succeeded: 0, atWork: 0 };
              for (const job of await watch.all<{ device_id: string; state: string }>(
                `SELECT device_id, state FROM deployment_jobs WHERE deployment_id = ?`,
                [id],
              )) {
                counts.jobs!++;
                if (homes.get(job.device_id) !== killedIndex) continue;
                if (job.state === "succeeded") counts.succeeded!++;
                else if (["downloading", "verifying", "installing"].includes(job.state)) counts.atWork!++;
              }
              return counts.succeeded! >= 20 && counts.atWork! >= 10 && counts;
            },
            120_000,
          );
        } finally {
          await watch.close();
        }
        phase("the victim's devices at work");
        killed.child.kill("SIGKILL");
        await new Promise((resolve) => killed.child.once("exit", resolve));
        const killedAt = performance.now();
        t.diagnostic(
          `just before the kill: ${atKill.jobs} jobs admitted; of the killed process's devices ${atKill.succeeded} succeeded, ${atKill.atWork} at work`,
        );

        const done = await waitFor(
          "all succeeded on the survivor",
          async () => {
            const jobs = await progress();
            return jobs.succeeded === DEVICES && jobs;
          },
          120_000,
        );
        assert.equal((done.failed ?? 0) + (done.timed_out ?? 0) + (done.canceled ?? 0), 0);
        phase("all succeeded");
        // Every device's last report acknowledged (by the survivor where its first went unanswered).
        await fleet.reached("succeeded", DEVICES, 30_000);
        const after = fleet.tally();
        t.diagnostic(
          `after the kill: all ${DEVICES} succeeded in ${((performance.now() - killedAt) / 1000).toFixed(1)} s; ` +
            `${after.jobsCutOff} devices cut off mid-job, ${after.reconnects} reconnects (${after.failovers} to the other process), ` +
            `${after.reportsResent} reports re-sent, ` +
            `downloads: ${after.downloadFailures} failed attempts, ${after.downloadsResumed} resumed, ${after.downloadsRestarted} restarted`,
        );

        // The kill cut devices off in the middle of their jobs (and they finished them elsewhere).
        assert.ok(after.jobsCutOff > 0, "jobs under way on the killed process");

        // The stored record, read from PostgreSQL: one job per device, and each job's transitions
        // every state once, in order. None is missing: a report is stored before its PUBACK
        // (mqtt/handlers/publish.ts), and one the killed process had not acknowledged was sent again
        // to the survivor.
        const store = await bench.openStore();
        let jobOf: Map<string, string>;
        try {
          jobOf = await assertEveryTransitionOnce(store, id, DEVICES);
        } finally {
          await store.close();
        }

        phase("stored record checked");
        // No device ran an install twice; every device of the killed process went over to the
        // survivor, and the survivor's own devices stayed where they were.
        const stats = await fleet.stats();
        assert.deepEqual(new Set(stats.map((s) => s.deviceId)), new Set(homes.keys()));
        let failedOver = 0;
        for (const s of stats) {
          assert.deepEqual(
            s.installs,
            { [jobOf.get(s.deviceId)!]: 1 },
            `${s.deviceId} installed its job once`,
          );
          if (homes.get(s.deviceId) === killedIndex) {
            assert.equal(s.sessions[0], killedIndex);
            assert.equal(s.sessions.at(-1), survivorIndex, `${s.deviceId} failed over`);
            failedOver++;
          } else assert.deepEqual(s.sessions, [survivorIndex], `${s.deviceId} stayed on the survivor`);
        }
        assert.equal(failedOver, [...homes.values()].filter((home) => home === killedIndex).length);
        assert.ok(failedOver > 0);
      } finally {
        await fleet?.close();
        await setup?.cleanup();
      }
    });
});
