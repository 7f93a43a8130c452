import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { JobNotify, JobStatusReport } from "@bulwark/sdk/wire/jobs";
import { deviceTopics } from "@bulwark/sdk/wire/topics";
import type { MqttClient } from "mqtt";
import type { EnrolledDevice } from "../../../../test/enrol-helpers.ts";
import { startTestServer, type TestServer, waitFor } from "../../../../test/helpers.ts";
import { connectDevice } from "../../../../test/mqtt-helpers.ts";
import { productDevice, publishedRelease } from "../../../../test/update-helpers.ts";

/** A simulated device: connected over MQTT, collecting its job notifications, reporting states. */
interface SimDevice extends EnrolledDevice {
  client: MqttClient;
  notes: JobNotify[];
}

interface Summary {
  status: string;
  statusReason: string | null;
  wave: number;
  eligible: number;
  incompatible: number;
  jobs: Record<string, number>;
}

describe("deployments: waves with gates and pauses, abort, late joiners, hardware checks", () => {
  let server: TestServer;
  let productId: string;
  const devices: SimDevice[] = [];

  async function simDevice(group: string, hardwareRevision = "rev-a"): Promise<SimDevice> {
    const enrolled = await productDevice(server, productId, group);
    const client = await connectDevice(server, enrolled);
    const topics = deviceTopics(enrolled.deviceId);
    const sim: SimDevice = { ...enrolled, client, notes: [] };
    client.on("message", (_topic, payload) => sim.notes.push(JSON.parse(payload.toString()) as JobNotify));
    await client.subscribeAsync(topics.jobsNotify, { qos: 1 });
    await client.publishAsync(topics.meta, JSON.stringify({ hardwareRevision }), { qos: 1 });
    devices.push(sim);
    return sim;
  }

  const report = (d: SimDevice, jobId: string, body: JobStatusReport) =>
    d.client.publishAsync(deviceTopics(d.deviceId).jobStatus(jobId), JSON.stringify(body), { qos: 1 });
  const noteFor = (d: SimDevice, deploymentId: string, state?: string) =>
    d.notes.find((n) => n.deploymentId === deploymentId && (state === undefined || n.state === state));
  const status = async (id: string) => (await server.api<Summary>("GET", `/api/v1/deployments/${id}`)).body;
  const install = async (d: SimDevice, jobId: string, outcome: "succeeded" | "failed" = "succeeded") => {
    for (const state of ["downloading", "verifying", "installing"] as const)
      await report(d, jobId, { state });
    await report(
      d,
      jobId,
      outcome === "failed" ? { state: "failed", reason: "health check failed" } : { state: outcome },
    );
  };

  before(async () => {
    server = await startTestServer();
    const product = await server.api<{ id: string }>("POST", "/api/v1/products", { name: "Thermostat T1" });
    productId = product.body.id;
    for (const name of ["lab", "field"])
      assert.equal((await server.api("POST", "/api/v1/groups", { name })).status, 201);
    for (let i = 0; i < 6; i++) await simDevice("lab");
    await simDevice("lab", "rev-z");
  });
  after(async () => {
    for (const d of devices) d.client.end(true);
    await server.close();
  });

  it("rolls out in waves: 50 % first, a pause for an outside check, then the rest; late joiners included", async () => {
    const releaseId = await publishedRelease(server, productId, "1.0.0", { hardware: ["rev-a"] });
    const created = await server.api<{ id: string }>("POST", "/api/v1/deployments", {
      releaseId,
      group: "lab",
      strategy: { kind: "waves", waves: [50, 100], successGate: 1, pauseAfterWave: true },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id;
    const lab = devices.slice(0, 6);
    const firstWave = await waitFor("wave 1 notified", async () => {
      const notified = lab.filter((d) => noteFor(d, id));
      return notified.length === 3 && notified;
    });
    const summary = await status(id);
    assert.equal(summary.eligible, 6);
    assert.equal(summary.incompatible, 1, "the rev-z device is left out: the release lists rev-a only");
    assert.equal(devices[6]!.notes.length, 0);
    const note = noteFor(firstWave[0]!, id)!;
    assert.deepEqual(note.targets, [{ path: "firmware/1.0.0/image.bin", artifact: "binary" }]);
    assert.equal(note.mandatory, false);
    for (const d of firstWave) await install(d, noteFor(d, id)!.jobId);
    const paused = await waitFor("paused after wave 1", async () => {
      const s = await status(id);
      return s.status === "paused" && s;
    });
    assert.equal(paused.jobs.succeeded, 3);
    assert.match(paused.statusReason!, /wave 1 done/);
    assert.equal(lab.filter((d) => noteFor(d, id)).length, 3, "nobody else is notified while paused");
    assert.equal((await server.api("POST", `/api/v1/deployments/${id}/resume`)).status, 200);
    const rest = await waitFor("wave 2 notified", async () => {
      const fresh = lab.filter((d) => !firstWave.includes(d) && noteFor(d, id));
      return fresh.length === 3 && fresh;
    });
    for (const d of rest) await install(d, noteFor(d, id)!.jobId);
    await waitFor("all six succeeded", async () => (await status(id)).jobs.succeeded === 6);
    // A device that joins the group later receives the deployment.
    const late = await simDevice("lab");
    const lateNote = await waitFor("late joiner notified", async () => noteFor(late, id));
    await install(late, lateNote.jobId);
    await waitFor("seven succeeded", async () => (await status(id)).jobs.succeeded === 7);
    // A report after the end changes nothing; the device's job history is stored transition by transition.
    await report(late, lateNote.jobId, { state: "downloading" });
    const events = await server.api<{
      items: { from_state: string | null; to_state: string; actor: string }[];
    }>("GET", `/api/v1/deployments/${id}/jobs/${lateNote.jobId}/events`);
    assert.deepEqual(
      events.body.items.map((e) => `${e.from_state ?? "-"}>${e.to_state}:${e.actor}`),
      [
        "->queued:system",
        "queued>notified:system",
        "notified>downloading:device",
        "downloading>verifying:device",
        "verifying>installing:device",
        "installing>succeeded:device",
      ],
    );
  });

  it("aborts on its own when failures pass the threshold, and cancels the jobs not yet installing", async () => {
    const releaseId = await publishedRelease(server, productId, "1.1.0", { classification: "security" });
    const created = await server.api<{ id: string }>("POST", "/api/v1/deployments", {
      releaseId,
      group: "lab",
      abort: { failureRate: 0.5, minCount: 2, count: ["failed"] },
    });
    const id = created.body.id;
    const notified = await waitFor("all notified", async () => {
      const all = devices.filter((d) => noteFor(d, id));
      return all.length === devices.length && all;
    });
    assert.equal(noteFor(notified[0]!, id)!.mandatory, true, "a security release is mandatory");
    await install(notified[0]!, noteFor(notified[0]!, id)!.jobId, "failed");
    await install(notified[1]!, noteFor(notified[1]!, id)!.jobId, "failed");
    const aborted = await waitFor("aborted", async () => {
      const s = await status(id);
      return s.status === "aborted" && s;
    });
    assert.match(aborted.statusReason!, /failure rate 2\/2/);
    assert.equal(aborted.jobs.failed, 2);
    assert.equal(aborted.jobs.canceled, devices.length - 2);
    await waitFor("devices told to stop", async () => noteFor(notified[2]!, id, "canceled"));
    const resumed = await server.api<{ code: string }>("POST", `/api/v1/deployments/${id}/resume`);
    assert.equal(resumed.status, 409);
  });

  it("an operator cancel is audited; deferral of a mandatory update is capped by the policy", async () => {
    const releaseId = await publishedRelease(server, productId, "1.2.0", { classification: "security" });
    const created = await server.api<{ id: string }>("POST", "/api/v1/deployments", {
      releaseId,
      devices: [devices[0]!.deviceId],
      maxDeferralSeconds: 3600,
    });
    const id = created.body.id;
    const note = await waitFor("notified", async () => noteFor(devices[0]!, id));
    await report(devices[0]!, note.jobId, {
      state: "deferred",
      reason: "user deferred",
      deferUntil: Date.now() + 30 * 86_400_000,
    });
    const job = await waitFor("deferred", async () => {
      const jobs = await server.api<{ items: { state: string; deferUntil: number }[] }>(
        "GET",
        `/api/v1/deployments/${id}/jobs`,
      );
      return jobs.body.items[0]?.state === "deferred" && jobs.body.items[0];
    });
    assert.ok(job.deferUntil <= Date.now() + 3600_000, "deferral capped at the policy's 1 h");
    const canceled = await server.api<Summary>("POST", `/api/v1/deployments/${id}/cancel`);
    assert.equal(canceled.status, 200);
    assert.equal(canceled.body.status, "canceled");
    assert.equal(canceled.body.jobs.canceled, 1);
    const audit = await server.api<{ items: { action: string; targetId: string }[] }>(
      "GET",
      "/api/v1/audit?limit=1000",
    );
    assert.ok(audit.body.items.some((e) => e.action === "deployment.cancel" && e.targetId === id));
  });

  it("refuses deployments of unpublished releases and malformed strategies", async () => {
    const bad = await server.api<{ code: string }>("POST", "/api/v1/deployments", {
      releaseId: "00000000-0000-4000-8000-000000000000",
      group: "lab",
      strategy: { kind: "waves", waves: [60, 50] },
    });
    assert.equal(bad.status, 404);
    const releaseId = await publishedRelease(server, productId, "1.3.0");
    const waves = await server.api<{ code: string }>("POST", "/api/v1/deployments", {
      releaseId,
      group: "lab",
      strategy: { kind: "waves", waves: [60, 50] },
    });
    assert.equal(waves.body.code, "BW_ERR_VALIDATION");
    const window = await server.api<{ code: string }>("POST", "/api/v1/deployments", {
      releaseId,
      group: "lab",
      window: { cron: "0 2 * * *", timeZone: "Nowhere/Atlantis", durationMinutes: 60 },
    });
    assert.equal(window.body.code, "BW_ERR_VALIDATION");
    const twoTargets = await server.api<{ code: string }>("POST", "/api/v1/deployments", {
      releaseId,
      group: "lab",
      devices: [devices[0]!.deviceId],
    });
    assert.equal(twoTargets.body.code, "BW_ERR_VALIDATION");
    const ok = await server.api("POST", "/api/v1/deployments", {
      releaseId,
      group: "field",
      window: { cron: "0 2 * * *", timeZone: "Europe/Berlin", durationMinutes: 60 },
    });
    assert.equal(ok.status, 201, "positive control");
  });
});
