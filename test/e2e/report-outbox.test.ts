import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { connect, createServer, type Socket } from "node:net";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import type { JobStatusReport } from "@bulwark/sdk/wire/jobs";
import mqtt, { type MqttClient } from "mqtt";
import { openAgentStore } from "../../packages/agent/src/device-store.ts";
import { createLog } from "../../packages/agent/src/log.ts";
import { ReportOutbox } from "../../packages/agent/src/updates/report-outbox.ts";
import {
  createJob,
  jobEvents,
  jobsOf,
  transitionJob,
} from "../../packages/server/src/updates/deployment-jobs.ts";
import { DEFAULT_SPEC } from "../../packages/server/src/updates/deployment-spec.ts";
import { insertDeployment } from "../../packages/server/src/updates/deployments.ts";
import { applyJobReport } from "../../packages/server/src/updates/job-reports.ts";
import { release, tempStore } from "../../packages/server/test/store-fixtures.ts";
import { tempDir, waitFor } from "../helpers.ts";

const BROKER = { host: "127.0.0.1", port: Number(process.env.BULWARK_TEST_MQTT_PORT ?? 1883) };

/**
 * A TCP relay to the local Mosquitto that cuts a connection mid-report: `cut(n)` says how the n-th
 * connection ends. "before-broker": the device's first PUBLISH never reaches the broker (a link
 * that died under it); "before-puback": the broker has the PUBLISH, its PUBACK never reaches the
 * device. Later connections are relayed as they are. MQTT 3.1.1 §2.2: fixed header, then the
 * remaining length (a varint).
 */
async function cuttingRelay(
  t: TestContext,
  cut: (n: number) => "before-broker" | "before-puback" | undefined,
) {
  const open = new Set<Socket>();
  let connections = 0;
  const server = createServer((device) => {
    const mode = cut(++connections);
    const broker = connect(BROKER);
    for (const s of [device, broker]) {
      open.add(s);
      s.on("close", () => open.delete(s));
      s.on("error", () => {});
    }
    device.on("close", () => broker.destroy());
    broker.on("close", () => device.destroy());
    const relay = (from: Socket, to: Socket, stopAt: number | undefined) => {
      let buffered = Buffer.alloc(0);
      from.on("data", (chunk: Buffer) => {
        if (stopAt === undefined) return void to.write(chunk);
        buffered = Buffer.concat([buffered, chunk]);
        for (;;) {
          let length = 0;
          let i = 1;
          for (let shift = 0; i < buffered.length; i++, shift += 7) {
            length += (buffered[i]! & 0x7f) << shift;
            if ((buffered[i]! & 0x80) === 0) break;
          }
          if (i >= buffered.length || buffered.length < i + 1 + length) return;
          const packet = buffered.subarray(0, i + 1 + length);
          buffered = buffered.subarray(i + 1 + length);
          if (packet[0]! >> 4 === stopAt) {
            device.destroy();
            broker.destroy();
            return;
          }
          to.write(packet);
        }
      });
    };
    // Control packet types (§2.2.1): PUBLISH 3, PUBACK 4.
    relay(device, broker, mode === "before-broker" ? 3 : undefined);
    relay(broker, device, mode === "before-puback" ? 4 : undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(async () => {
    for (const s of open) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port: (server.address() as { port: number }).port, connections: () => connections };
}

/** The device's client as the agent runs it: clean session, its own reconnect loop (until `stop`). */
function agentClient(t: TestContext, port: number): MqttClient & { stop(): void } {
  const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
    protocolVersion: 4,
    clientId: `bulwark-outbox-${randomUUID()}`,
    clean: true,
    reconnectPeriod: 0,
    keepalive: 60,
  });
  let stopped = false;
  client.on("error", () => {});
  client.on("close", () => {
    if (!stopped) setTimeout(() => !stopped && client.reconnect(), 20);
  });
  const stop = () => {
    stopped = true;
    client.end(true);
  };
  t.after(stop);
  return Object.assign(client, { stop });
}

/** A subscriber on the broker itself, in place of the server: what reached it, in order. */
async function listen(t: TestContext, topicRoot: string) {
  const seen: { jobId: string; report: JobStatusReport }[] = [];
  const client = mqtt.connect(`mqtt://${BROKER.host}:${BROKER.port}`, { protocolVersion: 4 });
  t.after(() => client.end(true));
  await new Promise<void>((resolve, reject) => {
    client.once("connect", () => resolve());
    client.once("error", reject);
  });
  await client.subscribeAsync(`${topicRoot}/jobs/+/status`, { qos: 1 });
  client.on("message", (topic, payload) =>
    seen.push({ jobId: topic.split("/").at(-2)!, report: JSON.parse(payload.toString("utf8")) }),
  );
  return seen;
}

/** A job on a real (SQLite) server store, notified, waiting for the device's reports. */
async function serverJob(t: TestContext, deviceId: string) {
  const fixture = await tempStore();
  t.after(() => fixture.close());
  const rel = await release(fixture.store, "Outbox O1", "1.0.0");
  const deployment = await insertDeployment(fixture.store, {
    releaseId: rel.id,
    productId: rel.productId,
    target: { devices: [deviceId] },
    spec: DEFAULT_SPEC,
    createdBy: null,
  });
  await fixture.store.transaction((tx) => createJob(tx, deployment.id, deviceId, 0, 60_000));
  const [job] = await jobsOf(fixture.store, deployment.id);
  assert.ok(job);
  await fixture.store.transaction((tx) =>
    transitionJob(tx, job, "notified", { actor: "system", deadlineAt: job.deadlineAt }),
  );
  return { store: fixture.store, job };
}

const states = (seen: { report: JobStatusReport }[]) => seen.map((s) => s.report.state);

describe("agent job reports survive a connection cut before their PUBACK (MQTT 3.1.1 §4.3.2)", () => {
  it("keeps each report in the encrypted store until acknowledged; the server stores each once, in order", async (t) => {
    const relay = await cuttingRelay(t, (n) =>
      n === 1 ? "before-broker" : n === 2 ? "before-puback" : undefined,
    );
    const deviceId = `outbox-${randomUUID()}`;
    const root = `bulwark-test/${deviceId}`;
    const seen = await listen(t, root);
    const { store: serverStore, job } = await serverJob(t, deviceId);
    const store = openAgentStore(join(tempDir("bulwark-outbox-"), "state"), { tpm: null });
    const client = agentClient(t, relay.port);
    const outbox = new ReportOutbox({
      store,
      client,
      topic: (jobId) => `${root}/jobs/${jobId}/status`,
      log: createLog("error"),
    });
    await new Promise<void>((resolve) => client.once("connect", () => resolve()));

    // Connection 1 dies under the report; connection 2 delivers it but loses the PUBACK.
    outbox.add(job.id, { state: "downloading", progress: { bytes: 10, total: 10 } });
    outbox.add(job.id, { state: "verifying" });
    await waitFor("third connection", async () => relay.connections() >= 3 && client.connected);
    outbox.add(job.id, { state: "installing" });
    outbox.add(job.id, { state: "succeeded" });
    await waitFor("every report acknowledged", async () => outbox.pending().length === 0);
    await waitFor("the last report received", async () => states(seen).includes("succeeded"));

    // At least once, first arrivals in the order made; the reports whose PUBACK was lost came again.
    assert.deepEqual([...new Set(states(seen))], ["downloading", "verifying", "installing", "succeeded"]);
    assert.ok(states(seen).filter((s) => s === "downloading").length >= 2, states(seen).join());

    // Applied as the server applies them: every transition stored exactly once, in order.
    for (const { jobId, report } of seen)
      await serverStore.transaction((tx) => applyJobReport(tx, deviceId, jobId, report));
    assert.deepEqual(
      (await jobEvents(serverStore, job.id)).map((e) => e.to_state),
      ["queued", "notified", "downloading", "verifying", "installing", "succeeded"],
    );
  });

  it("reports made offline are sent after the agent restarts, in order", async (t) => {
    // Every connection to this relay is cut at the first PUBLISH: nothing made now reaches the broker.
    const dead = await cuttingRelay(t, () => "before-broker");
    const deviceId = `outbox-${randomUUID()}`;
    const root = `bulwark-test/${deviceId}`;
    const seen = await listen(t, root);
    const dir = join(tempDir("bulwark-outbox-"), "state");
    const topic = (jobId: string) => `${root}/jobs/${jobId}/status`;
    const log = createLog("error");
    const before = agentClient(t, dead.port);
    const first = new ReportOutbox({ store: openAgentStore(dir, { tpm: null }), client: before, topic, log });
    await new Promise<void>((resolve) => before.once("connect", () => resolve()));
    first.add("job-1", { state: "installing" });
    first.add("job-1", { state: "succeeded" });
    await waitFor("the connection cut", async () => dead.connections() >= 2);
    before.stop();
    assert.equal(first.pending().length, 2);

    // The agent restarts: a new store handle and client, straight to the broker.
    const relay = await cuttingRelay(t, () => undefined);
    const after = agentClient(t, relay.port);
    const second = new ReportOutbox({ store: openAgentStore(dir, { tpm: null }), client: after, topic, log });
    await waitFor("every report acknowledged", async () => second.pending().length === 0);
    await waitFor("both received", async () => seen.length >= 2);
    assert.deepEqual(states(seen), ["installing", "succeeded"]);
  });

  it("without the outbox, mqtt.js with a clean session and no reconnect period loses the report (control)", async (t) => {
    const relay = await cuttingRelay(t, (n) => (n === 1 ? "before-broker" : undefined));
    const deviceId = `outbox-${randomUUID()}`;
    const root = `bulwark-test/${deviceId}`;
    const seen = await listen(t, root);
    const client = agentClient(t, relay.port);
    await new Promise<void>((resolve) => client.once("connect", () => resolve()));
    const jobId = randomUUID();
    // The agent's report before the outbox: handed to mqtt.js only.
    let acknowledged = false;
    client.publish(
      `${root}/jobs/${jobId}/status`,
      JSON.stringify({ state: "downloading" }),
      { qos: 1 },
      (e) => {
        acknowledged = !e;
      },
    );
    await waitFor("second connection", async () => relay.connections() >= 2 && client.connected);
    await client.publishAsync(`${root}/jobs/${jobId}/status`, JSON.stringify({ state: "succeeded" }), {
      qos: 1,
    });
    await waitFor("the later report received", async () => states(seen).includes("succeeded"));
    assert.deepEqual(states(seen), ["succeeded"], "the report cut before the broker never arrived");
    assert.equal(acknowledged, false);
  });
});
