/**
 * `npm run bench -- rollout [--devices N] [--download-concurrency C] [--no-progress-reports] [--processes 2]`
 *
 * Issue #15 item 9: a rollout to N connected simulated devices (default 10,000; the fleet
 * simulator, real keys and certificates, MQTT over mutual TLS 1.3). One product, one release with
 * a 1 MiB artifact, published, then one all-at-once deployment to every device, all through the
 * operator API. Each device runs the simulator's update client (`fleet-sim/update-device.ts`): on
 * its `jobs/notify` message it reports downloading, downloads the target over HTTPS with its own
 * certificate while checking length and SHA-256, and reports verifying, installing, succeeded (the
 * states and the paced progress reports of the real agent, `wire/progress.ts`). Measured:
 *  (1) deployment request → the last device notified, against Debian's Mosquitto 2.0.11 (mutual
 *      TLS 1.3, the same devices' certificates and clients) delivering one message of the same
 *      size to each of the same N device topics, from one publisher, in the same run. Both to
 *      clients that only count the message (a first deployment, then canceled); the rollout of
 *      (2) is timed to its last notice too (`notify_while_acting_s`), while the first devices
 *      already report and download: on this one machine their CPU is taken from the server's;
 *  (2) deployment request → every job stored as succeeded (and the device's last report
 *      acknowledged), against the same clients downloading and hashing the same file from a bare
 *      `node:https` server with the server's TLS settings (`fleet-sim/https-floor.ts`) in the same
 *      run. Downloads in flight are capped per worker process (`--download-concurrency`, the same
 *      cap for both), so the simulator does not run out of descriptors.
 * What is measured is the server's notify + serve + report path. The devices skip the agent's TUF
 * metadata workflow (TUF spec §5: root, timestamp, snapshot, targets fetched and verified per
 * device): that is per-device CPU the peer has no counterpart of, and on this 2-core machine it
 * would be the simulator's CPU, not the server's; the target's length and hash come from the
 * bench (what the signed targets metadata says) instead. For scale: AWS IoT Jobs caps a rollout at
 * 1,000 devices a minute, i.e. 10 minutes for 10,000. On this 2-core machine (`ulimit -n` 20,000)
 * 10,000 devices fit: all connect and subscribe on both brokers (figures in docs/benchmarks.md).
 * With `--processes 2` the server is the scale-out deployment: two processes over PostgreSQL and
 * Redis (BULWARK_BENCH_DATABASE_URL, BULWARK_BENCH_REDIS_URL), device i on process i mod 2 for MQTT
 * and HTTPS, the CPU figure both processes' together; the peers stay one process each.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import mqtt from "mqtt";
import { deviceTopics } from "../packages/sdk/src/wire/topics.ts";
import { MAX_PER_WORKER, startFleet } from "./fleet-sim/fleet.ts";
import { intArg, publishImageRelease, setUpBench } from "./fleet-sim/harness.ts";
import type { SimDevice } from "./fleet-sim/identities.ts";
import { procStats, startHttpsFloor, startMosquitto, sumStats, untilIdle } from "./fleet-sim/processes.ts";
import { now } from "./fleet-sim/update-device.ts";

const log = (line: string) => process.stderr.write(`${line}\n`);
const PRODUCT = "Rollout bench";
const ARTIFACT = "firmware.bin";
const MIB = 1024 * 1024;
const seconds = (ms: number) => Number((ms / 1000).toFixed(2));

export async function run(args: string[]): Promise<void> {
  const devices = intArg(args, "--devices", 10_000);
  const downloadConcurrency = intArg(args, "--download-concurrency", 32);
  // Without the agent's progress reports (to see what they cost the server).
  const progressReports = !args.includes("--no-progress-reports");
  // Two: scale-out, the devices split between two processes over PostgreSQL and Redis.
  const processes = intArg(args, "--processes", 1);
  const workers = Math.max(Math.ceil(devices / MAX_PER_WORKER), devices > 2000 ? 2 : 1);
  log(`setting up a server and ${devices} device identities (+1 for the peer's publisher)`);
  // One more identity than devices: the last one publishes to the peer broker and is in no product.
  const setup = await setUpBench({
    devices: devices + 1,
    processes,
    afterIssue: async (store, file) => {
      const last = JSON.parse(readFileSync(file, "utf8").trim().split("\n").at(-1)!) as SimDevice;
      await store.run(`UPDATE devices SET product = ? WHERE id <> ?`, [PRODUCT, last.deviceId]);
    },
  });
  const server = setup.servers[0]!;
  const pids = setup.servers.map((s) => s.pid);
  const mqttPorts = setup.servers.map((s) => s.mqttPort);
  const serverCpu = () => sumStats(pids.map(procStats)).cpuSeconds;
  const lines = readFileSync(setup.file, "utf8").trim().split("\n");
  const publisher = JSON.parse(lines[devices]!) as SimDevice;
  const deviceIds = lines.slice(0, devices).map((l) => (JSON.parse(l) as SimDevice).deviceId);
  const call = async (method: string, path: string, body?: unknown, expect = [200, 201]) => {
    const res = await setup.api(server, method, path, body);
    if (!expect.includes(res.status))
      throw new Error(`${method} ${path} answered ${res.status}: ${JSON.stringify(res.body)}`);
    return res.body as Record<string, unknown>;
  };
  try {
    // The release, through the operator API as `bulwark release …` does.
    const artifact = randomBytes(MIB);
    const artifactFile = join(setup.dir, ARTIFACT);
    writeFileSync(artifactFile, artifact);
    const target = { sha256: createHash("sha256").update(artifact).digest("hex"), length: artifact.length };
    /** The devices as clients that only count what they receive (the peer broker's and ours alike). */
    const countingFleet = (ports: number[]) =>
      startFleet({
        file: setup.file,
        devices,
        ports,
        caPem: setup.rootPem,
        workers,
        update: { behaviour: "count", httpsPorts: [], target, downloadConcurrency, reconnect: false },
      });
    const { productId: product, releaseId } = await publishImageRelease(call, PRODUCT, artifact, ARTIFACT);
    /** An all-at-once deployment of the release to every device, as `bulwark deploy` makes it. */
    const deployToAll = async () =>
      (await call("POST", "/api/v1/deployments", {
        releaseId,
        group: "default",
        strategy: { kind: "all-at-once" },
      })) as { id: string };

    // Peer 1: Mosquitto, one message of a job notification's size to each device topic.
    const mosquittoPort = 18_000 + Math.floor(Math.random() * 10_000);
    const mosquitto = await startMosquitto({
      dir: setup.dir,
      port: mosquittoPort,
      caPem: setup.rootPem,
      ...setup.serverIdentity,
    });
    let peerNotifyMs: number;
    try {
      const fleet = await countingFleet([mosquittoPort]);
      log(`mosquitto: ${fleet.connected} devices connected and subscribed (${fleet.failed} failed)`);
      if (fleet.connected !== devices) throw new Error(`only ${fleet.connected} of ${devices} on mosquitto`);
      const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${mosquittoPort}`, {
        protocolVersion: 4,
        clientId: publisher.deviceId,
        key: publisher.keyPem,
        cert: publisher.certChainPem,
        ca: setup.rootPem,
        servername: "localhost",
        minVersion: "TLSv1.3",
        reconnectPeriod: 0,
      } as mqtt.IClientOptions);
      const started = now();
      for (const deviceId of deviceIds)
        client.publish(deviceTopics(deviceId).jobsNotify, notifyLike(product), { qos: 1 });
      const last = await fleet.reached("notified", devices, 600_000);
      peerNotifyMs = last - started;
      log(`mosquitto: ${devices} devices notified in ${seconds(peerNotifyMs)} s`);
      await client.endAsync();
      await fleet.close();
    } finally {
      await mosquitto.stop();
    }

    // Our server, notification alone: the same clients as Mosquitto's, counting the notice and
    // doing nothing else, so both brokers deliver to clients that only receive. A deployment of
    // the release to every device, then canceled: what the issue compares (notified against
    // Mosquitto delivering one message per device topic to the same kind of clients).
    let countOnlyNotifyMs: number;
    {
      const fleet = await countingFleet(mqttPorts);
      try {
        if (fleet.connected !== devices) throw new Error(`only ${fleet.connected} of ${devices} connected`);
        await untilIdle(pids);
        const started = now();
        const deployment = await deployToAll();
        countOnlyNotifyMs = (await fleet.reached("notified", devices, 600_000)) - started;
        log(`bulwark: ${devices} counting devices notified in ${seconds(countOnlyNotifyMs)} s`);
        await call("POST", `/api/v1/deployments/${deployment.id}/cancel`, {});
      } finally {
        await fleet.close();
      }
    }

    // Our server: the same devices with the update client.
    const fleet = await startFleet({
      file: setup.file,
      devices,
      ports: mqttPorts,
      caPem: setup.rootPem,
      workers,
      update: {
        behaviour: "agent",
        httpsPorts: setup.servers.map((s) => Number(new URL(s.httpUrl).port)),
        target,
        downloadConcurrency,
        reconnect: false,
        progressReports,
      },
    });
    try {
      log(`bulwark: ${fleet.connected} devices connected and subscribed (${fleet.failed} failed)`);
      if (fleet.connected !== devices) throw new Error(`only ${fleet.connected} of ${devices} connected`);

      // Peer 2: the same clients download the same file from bare node:https.
      const floorPort = 18_000 + Math.floor(Math.random() * 10_000);
      const floor = await startHttpsFloor({
        port: floorPort,
        caPem: setup.rootPem,
        ...setup.serverIdentity,
        file: artifactFile,
      });
      let peerDownloadMs: number;
      let peerMeanDownloadMs: number;
      let peerFirstByteMs: number;
      let peerCpu: number;
      try {
        const cpu = procStats(floor.pid).cpuSeconds;
        const started = now();
        fleet.downloadAll({
          port: floorPort,
          path: `/${ARTIFACT}`,
          expected: target,
          concurrency: downloadConcurrency,
        });
        peerDownloadMs = (await fleet.reached("downloaded", devices, 1_200_000)) - started;
        const t = fleet.tally();
        peerMeanDownloadMs = t.downloadMs / t.downloads;
        peerFirstByteMs = t.firstByteMs;
        peerCpu = procStats(floor.pid).cpuSeconds - cpu;
        log(
          `node:https: ${devices} devices downloaded and hashed 1 MiB in ${seconds(peerDownloadMs)} s (${peerMeanDownloadMs.toFixed(0)} ms each, ${(peerFirstByteMs / devices).toFixed(0)} ms to the headers); its CPU ${peerCpu.toFixed(1)} s`,
        );
      } finally {
        await floor.stop();
      }
      await untilIdle(pids);

      // The rollout.
      const cpuBefore = serverCpu();
      const started = now();
      const deployment = await deployToAll();
      const actingNotifyMs = (await fleet.reached("notified", devices, 1_200_000)) - started;
      log(
        `bulwark: ${devices} devices notified in ${seconds(actingNotifyMs)} s (while the first ones download)`,
      );
      const ackedAt = await fleet.reached("succeeded", devices, 1_800_000);
      // The figure ends when every job is stored as succeeded (the device's acknowledgement may
      // come before the store), read through the API.
      let storedAt = 0;
      let counts: Record<string, number> = {};
      for (;;) {
        counts = (await call("GET", `/api/v1/deployments/${deployment.id}`)).jobs as Record<string, number>;
        if ((counts.succeeded ?? 0) >= devices) {
          storedAt = now();
          break;
        }
        if (now() - ackedAt > 120_000) throw new Error(`jobs not stored: ${JSON.stringify(counts)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const succeededMs = Math.max(ackedAt, storedAt) - started;
      const rolloutCpu = serverCpu() - cpuBefore;
      const tally = fleet.tally();
      const meanDownloadMs = (tally.downloadMs - peerMeanDownloadMs * devices) / (tally.downloads - devices);
      log(
        `bulwark: ${devices} jobs succeeded in ${seconds(succeededMs)} s (last device ack after ${seconds(ackedAt - started)} s); server CPU ${rolloutCpu.toFixed(1)} s${processes > 1 ? ` (${processes} processes)` : ""}; ${tally.downloadFailures} download retries; ${meanDownloadMs.toFixed(0)} ms per download, ${((tally.firstByteMs - peerFirstByteMs) / (tally.downloads - devices)).toFixed(0)} ms to the headers`,
      );
      const notifyRatio = countOnlyNotifyMs / peerNotifyMs;
      const downloadRatio = succeededMs / peerDownloadMs;
      process.stdout.write(
        `${JSON.stringify({
          bench: "rollout",
          metric: "notify_ratio",
          value: seconds(countOnlyNotifyMs),
          unit: "s",
          peer: "mosquitto 2.0.11 (one message per device topic)",
          peer_value: seconds(peerNotifyMs),
          ratio: Number(notifyRatio.toFixed(2)),
          goal: "notify <= 1.5x mosquitto; download+verify+report <= 1.5x bare node:https",
          met: notifyRatio <= 1.5 && downloadRatio <= 1.5,
          devices,
          // 1: embedded SQLite; 2 or more: PostgreSQL and Redis, the devices split between them.
          server_processes: processes,
          // The same rollout's notification while the devices act on it (report, download: on
          // this one machine their CPU is the server's and the peer clients' too).
          notify_while_acting_s: seconds(actingNotifyMs),
          notify_while_acting_ratio: Number((actingNotifyMs / peerNotifyMs).toFixed(2)),
          succeeded_s: seconds(succeededMs),
          download_peer: "node:https (same TLS settings, same clients, same 1 MiB file)",
          download_peer_s: seconds(peerDownloadMs),
          download_ratio: Number(downloadRatio.toFixed(2)),
          server_cpu_s: Number(rolloutCpu.toFixed(1)),
          // CPU of the download peer for the same downloads (less sensitive to the machine's load).
          download_peer_cpu_s: Number(peerCpu.toFixed(1)),
          download_concurrency_per_worker: downloadConcurrency,
          workers,
          download_retries: tally.downloadFailures,
          progress_reports: progressReports,
          mean_download_ms: Math.round(meanDownloadMs),
          peer_mean_download_ms: Math.round(peerMeanDownloadMs),
        })}\n`,
      );
    } finally {
      await fleet.close();
    }
  } finally {
    await setup.cleanup();
  }
}

/** A message of a job notification's shape and size (SDK wire/jobs.ts), for the peer broker. */
function notifyLike(productId: string): string {
  return JSON.stringify({
    type: "update",
    jobId: randomUUID(),
    deploymentId: randomUUID(),
    productId,
    state: "notified",
    targets: [{ path: `firmware/1.0.0/${ARTIFACT}`, artifact: "binary" }],
    component: "firmware",
    version: "1.0.0",
    kind: "feature",
    mandatory: false,
    maxDeferralSeconds: 0,
    window: null,
    network: { metered: "allow" },
    rollback: false,
    issuedAt: Date.now(),
  });
}
