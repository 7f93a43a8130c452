import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { deviceTopics } from "../../packages/sdk/src/wire/topics.ts";
import { assertDeviceMayDownload } from "../../packages/server/src/fleet/device-access.ts";
import { type EnrolledDevice, enrolDirect } from "../enrol-helpers.ts";
import { CLI, createToken, runCli, startTestServer, type TestServer, waitFor } from "../helpers.ts";
import { closed, connectDevice } from "../mqtt-helpers.ts";

interface ActionResult {
  from: string;
  device: { status: string };
  sessionsAffected: number;
  certificatesRevoked: number;
}

describe("fleet: incident actions over the API and the CLI", () => {
  let server: TestServer;
  let cliEnv: Record<string, string>;
  const enrol = async (): Promise<EnrolledDevice> => enrolDirect(server, await createToken(server));
  const auditActions = async (deviceId: string) =>
    (
      await server.store.all<{ action: string }>(
        `SELECT action FROM audit_log WHERE target_id = ? ORDER BY seq`,
        [deviceId],
      )
    )
      .map((r) => r.action)
      .filter((a) => a !== "device.enrol");

  before(async () => {
    server = await startTestServer();
    cliEnv = {
      BULWARK_URL: server.httpUrl,
      BULWARK_CA_FILE: server.rootPemPath,
      BULWARK_API_KEY: server.adminKey,
    };
  });
  after(async () => {
    await server.close();
  });

  it("disable closes the live session, refuses reconnects and downloads; enable lets it back (latency reported)", async (t) => {
    const device = await enrol();
    const client = await connectDevice(server, device);
    await waitFor("online", async () => server.broker.connectedDevices() > 0);
    const gone = closed(client);
    const start = performance.now();
    const res = await server.api<ActionResult>("POST", `/api/v1/devices/${device.deviceId}/disable`, {
      reason: "suspicious traffic",
    });
    await gone;
    const latencyMs = performance.now() - start;
    t.diagnostic(`disable -> disconnect latency through the API: ${latencyMs.toFixed(1)} ms`);
    assert.equal(res.status, 200);
    assert.equal(res.body.device.status, "disabled");
    assert.equal(res.body.sessionsAffected, 1);
    client.end(true);
    await assert.rejects(connectDevice(server, device), /Not authorized/i);
    await assert.rejects(assertDeviceMayDownload(server.store, device.deviceId, "update"), /disabled/);
    const enabled = await server.api<ActionResult>("POST", `/api/v1/devices/${device.deviceId}/enable`);
    assert.equal(enabled.body.device.status, "active");
    await assertDeviceMayDownload(server.store, device.deviceId, "update");
    const again = await connectDevice(server, device);
    await again.endAsync();
    assert.deepEqual(await auditActions(device.deviceId), ["device.disable", "device.enable"]);
  });

  it("quarantine keeps the session, lets it report, and delivers only remediation (config, cmd)", async () => {
    const device = await enrol();
    const topics = deviceTopics(device.deviceId);
    const client = await connectDevice(server, device);
    const received: string[] = [];
    let lastArrived = false;
    client.on("message", (topic, payload) => {
      received.push(topic);
      if (payload.toString().includes('"last"')) lastArrived = true;
    });
    await client.subscribeAsync([topics.cmd, topics.config, topics.jobsNotify], { qos: 1 });
    const res = await server.api<ActionResult>("POST", `/api/v1/devices/${device.deviceId}/quarantine`);
    assert.equal(res.body.device.status, "quarantined");
    assert.ok(client.connected, "a quarantined device stays connected");
    await server.broker.publish(device.deviceId, "jobsNotify", { job: "feature-update" });
    await server.broker.publish(device.deviceId, "cmd", { type: "ping" });
    await server.broker.publish(device.deviceId, "config", { type: "remediation" });
    // Positive control: a last command sent after the job notice arrives; the notice, sent first on
    // the same QoS 1 session, would be ahead of it had it been delivered.
    await server.broker.publish(device.deviceId, "cmd", { type: "last" });
    await waitFor("remediation delivered", async () => lastArrived);
    assert.deepEqual(received.sort(), [topics.cmd, topics.cmd, topics.config].sort());
    // It may still report: metadata is stored, the session stays up.
    await client.publishAsync(topics.meta, JSON.stringify({ model: "quarantined-cam" }), { qos: 1 });
    await waitFor("metadata from quarantine", async () => {
      const d = await server.api<{ metadata: { model?: string } }>(
        "GET",
        `/api/v1/devices/${device.deviceId}`,
      );
      return d.body.metadata.model === "quarantined-cam";
    });
    await assert.rejects(assertDeviceMayDownload(server.store, device.deviceId, "update"), /quarantined/);
    await assertDeviceMayDownload(server.store, device.deviceId, "remediation");
    // Enable lifts the restriction on the live session.
    await server.api("POST", `/api/v1/devices/${device.deviceId}/enable`);
    await server.broker.publish(device.deviceId, "jobsNotify", { job: "feature-update" });
    await waitFor("notify delivered after enable", async () => received.includes(topics.jobsNotify));
    await client.endAsync();
  });

  it("compromise revokes every certificate (keyCompromise), kicks, and cannot be undone by enable", async () => {
    const device = await enrol();
    const client = await connectDevice(server, device);
    const gone = closed(client);
    const res = await server.api<ActionResult>("POST", `/api/v1/devices/${device.deviceId}/compromise`, {
      reason: "key found on a forum",
    });
    await gone;
    client.end(true);
    assert.equal(res.body.device.status, "compromised");
    assert.equal(res.body.certificatesRevoked, 1);
    const certs = await server.store.all<{ status: string; revocation_reason: string; revoked_at: number }>(
      `SELECT status, revocation_reason, revoked_at FROM certificates WHERE device_id = ?`,
      [device.deviceId],
    );
    assert.equal(certs.length, 1);
    assert.equal(certs[0]!.status, "revoked");
    assert.equal(certs[0]!.revocation_reason, "keyCompromise");
    assert.ok(Number(certs[0]!.revoked_at) > 0);
    await assert.rejects(connectDevice(server, device), /Not authorized/i);
    const refused = await server.api<{ code: string }>("POST", `/api/v1/devices/${device.deviceId}/enable`);
    assert.equal(refused.status, 409);
    assert.equal(refused.body.code, "BW_ERR_DEVICE_TRANSITION");
    const after = await server.api<{ status: string }>("GET", `/api/v1/devices/${device.deviceId}`);
    assert.equal(after.body.status, "compromised");
    assert.deepEqual(await auditActions(device.deviceId), ["device.compromise"]);
  });

  it("bad requests change nothing: unknown device, unknown sort key, bad body, wrong permission", async () => {
    const device = await enrol();
    const missing = await server.api<{ code: string }>(
      "POST",
      "/api/v1/devices/00000000-0000-4000-8000-000000000000/disable",
    );
    assert.equal(missing.status, 404);
    const badBody = await server.api<{ code: string }>("POST", `/api/v1/devices/${device.deviceId}/disable`, {
      reason: "",
    });
    assert.equal(badBody.body.code, "BW_ERR_VALIDATION");
    const badSort = await server.api<{ code: string }>("GET", "/api/v1/devices?sort=metadata;DROP");
    assert.equal(badSort.status, 400);
    const auditor = await server.api<{ key: string }>("POST", "/api/v1/api-keys", {
      name: "aud",
      role: "auditor",
    });
    const forbidden = await server.api<{ code: string }>(
      "POST",
      `/api/v1/devices/${device.deviceId}/disable`,
      {},
      { authorization: `Bearer ${auditor.body.key}` },
    );
    assert.equal(forbidden.body.code, "BW_ERR_FORBIDDEN");
    const d = await server.api<{ status: string }>("GET", `/api/v1/devices/${device.deviceId}`);
    assert.equal(d.body.status, "active");
    assert.deepEqual(await auditActions(device.deviceId), []);
  });

  it("the CLI runs the actions and lists with filters and a validated sort", async () => {
    const device = await enrol();
    const quarantine = await runCli(
      CLI,
      ["device", "quarantine", device.deviceId, "--reason", "triage"],
      cliEnv,
    );
    assert.equal(quarantine.code, 0, quarantine.stderr);
    assert.match(quarantine.stdout, /active -> quarantined/);
    const listed = await runCli(
      CLI,
      ["device", "list", "--status", "quarantined", "--sort=-lastSeenAt", "--json"],
      cliEnv,
    );
    assert.equal(listed.code, 0, listed.stderr);
    const page = JSON.parse(listed.stdout) as { items: { id: string; status: string }[] };
    assert.ok(page.items.some((d) => d.id === device.deviceId));
    assert.ok(page.items.every((d) => d.status === "quarantined"));
    const badSort = await runCli(CLI, ["device", "list", "--sort", "password"], cliEnv);
    assert.equal(badSort.code, 1);
    assert.match(badSort.stderr, /BW_ERR_VALIDATION/);
    const badId = await runCli(CLI, ["device", "disable", "not-a-uuid"], cliEnv);
    assert.equal(badId.code, 2);
    assert.equal(badId.stderr.trim().split("\n").length, 1);
    const decommissionTwice = await runCli(CLI, ["device", "enable", device.deviceId], cliEnv);
    assert.equal(decommissionTwice.code, 0, decommissionTwice.stderr);
    const again = await runCli(CLI, ["device", "enable", device.deviceId], cliEnv);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /BW_ERR_DEVICE_TRANSITION/);
  });

  it("device list sorts by each key, pages stably, and filters by serial and product", async () => {
    const a = await enrol();
    const b = await enrol();
    await server.api("PATCH", `/api/v1/devices/${a.deviceId}`, { serial: "SN-A", product: "cam" });
    await server.api("PATCH", `/api/v1/devices/${b.deviceId}`, { serial: "SN-B", product: "cam" });
    const bySerial = await server.api<{ items: { id: string }[] }>(
      "GET",
      "/api/v1/devices?product=cam&sort=-serial",
    );
    assert.deepEqual(
      bySerial.body.items.map((d) => d.id),
      [b.deviceId, a.deviceId],
    );
    const one = await server.api<{ items: { id: string }[]; total: number }>(
      "GET",
      "/api/v1/devices?serial=SN-A",
    );
    assert.deepEqual(
      one.body.items.map((d) => d.id),
      [a.deviceId],
    );
    const all = await server.api<{ total: number }>("GET", "/api/v1/devices?limit=1000");
    const seen = new Set<string>();
    for (let offset = 0; offset < all.body.total; offset += 2) {
      const page = await server.api<{ items: { id: string }[] }>(
        "GET",
        `/api/v1/devices?sort=group&limit=2&offset=${offset}`,
      );
      for (const d of page.body.items) seen.add(d.id);
    }
    assert.equal(seen.size, all.body.total);
  });
});
