import assert from "node:assert/strict";
import { describe, it } from "node:test";
import mqtt, { type MqttClient } from "mqtt";
import { verifyAuditChain } from "../../packages/server/src/audit/audit-log.ts";
import { enrolDirect, renewableGroup, renewDirect, serialOfPem } from "../enrol-helpers.ts";
import { createToken, startTestServer, type TestServer, waitFor } from "../helpers.ts";
import { freshSchema, needServices } from "../services.ts";

async function connectDevice(server: TestServer, device: Awaited<ReturnType<typeof enrolDirect>>) {
  const client = mqtt.connect(`mqtts://127.0.0.1:${server.mqttPort}`, {
    protocolVersion: 4,
    clientId: device.deviceId,
    reconnectPeriod: 0,
    key: device.keyPem,
    cert: device.certChainPem,
    ca: server.rootPem,
    minVersion: "TLSv1.3",
  } as mqtt.IClientOptions);
  await new Promise<void>((resolve, reject) => {
    client.once("connect", () => resolve());
    client.once("error", reject);
  });
  return client;
}

const closed = (client: MqttClient) => new Promise<void>((resolve) => client.once("close", () => resolve()));

describe("the core flow on PostgreSQL", () => {
  it("bootstrap → token → EST enrol → mTLS MQTT online → API disconnect → audit chain intact", async (t) => {
    if (!(await needServices(t, ["postgres"]))) return;
    const schema = freshSchema();
    await schema.create();
    const server = await startTestServer({ args: ["--store", "postgres", "--database-url", schema.url] });
    try {
      assert.equal(server.store.dialect, "postgres");
      assert.equal(server.firstRun?.adminUsername, "admin");
      const device = await enrolDirect(server, await createToken(server));
      const client = await connectDevice(server, device);
      const online = await waitFor("device online", async () => {
        const res = await server.api<{ online: boolean; status: string }>(
          "GET",
          `/api/v1/devices/${device.deviceId}`,
        );
        return res.body.online && res.body;
      });
      assert.equal(online.status, "active");
      const listed = await server.api<{ total: number }>("GET", "/api/v1/devices?online=true");
      assert.equal(listed.body.total, 1);

      const kicked = closed(client);
      const res = await server.api("POST", `/api/v1/devices/${device.deviceId}/disconnect`);
      assert.equal(res.status, 202);
      await kicked;
      client.end(true);
      const missing = await server.api<{ code: string }>(
        "POST",
        "/api/v1/devices/00000000-0000-4000-8000-000000000000/disconnect",
      );
      assert.equal(missing.status, 404);
      assert.equal(missing.body.code, "BW_ERR_DEVICE_NOT_FOUND");
      const actions = await server.store.all<{ action: string }>(`SELECT action FROM audit_log ORDER BY seq`);
      assert.ok(actions.some((a) => a.action === "device.disconnect"));
      assert.equal((await verifyAuditChain(server.store)).problem, undefined);
    } finally {
      await server.close();
      await schema.drop();
    }
  });

  it("renewal on PostgreSQL: ten parallel renewals give one certificate; keyCompromise follows the renewal chain", async (t) => {
    if (!(await needServices(t, ["postgres"]))) return;
    const schema = freshSchema();
    await schema.create();
    const server = await startTestServer({ args: ["--store", "postgres", "--database-url", schema.url] });
    try {
      await renewableGroup(server, "renewable");
      const device = await enrolDirect(server, await createToken(server, "renewable"));
      const attempts = await Promise.allSettled(
        Array.from({ length: 10 }, () => renewDirect(server, device)),
      );
      // Same key: one is issued; the others are refused, or (once it committed) given the same one.
      const renewed = attempts.flatMap((a) => (a.status === "fulfilled" ? [a.value] : []));
      assert.equal(new Set(renewed.map((d) => serialOfPem(d.certPem))).size, 1, JSON.stringify(attempts));
      const issued = await server.store.get<{ n: number }>(
        `SELECT COUNT(*) AS n FROM certificates WHERE device_id = ?`,
        [device.deviceId],
      );
      assert.equal(Number(issued!.n), 2);
      const next = await renewDirect(server, renewed[0]!, { rekey: true });
      const serials = [device, renewed[0]!, next].map((d) => serialOfPem(d.certPem));
      const res = await server.api<{ alsoRevoked: string[] }>(
        "POST",
        `/api/v1/certificates/${serials[0]}/revoke`,
        {
          reason: "keyCompromise",
        },
      );
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(res.body.alsoRevoked, serials.slice(1));
      const rows = await server.store.all<{ status: string; revocation_reason: string }>(
        `SELECT status, revocation_reason FROM certificates WHERE device_id = ? ORDER BY created_at`,
        [device.deviceId],
      );
      assert.deepEqual(
        rows.map((r) => `${r.status}:${r.revocation_reason}`),
        serials.map(() => "revoked:keyCompromise"),
      );
    } finally {
      await server.close();
      await schema.drop();
    }
  });
});
