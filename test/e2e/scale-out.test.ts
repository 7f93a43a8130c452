import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { enrolDirect } from "../enrol-helpers.ts";
import { createToken, stopChild, type TestServer, tempDir, waitFor } from "../helpers.ts";
import { apiOf, closed, connect, type ServerProcess, startProcess } from "../scale-out-helpers.ts";
import { freshSchema, needServices, REDIS_URL } from "../services.ts";

describe("scale-out: two server processes over one PostgreSQL and Redis", () => {
  it("start together safely, share devices, and a disconnect, disable or certificate revocation through A kicks the session on B", async (t) => {
    if (!(await needServices(t, ["postgres", "redis"]))) return;
    const schema = freshSchema();
    await schema.create();
    const dir = tempDir("bulwark-scale-");
    const keyFile = join(dir, "admin.key");
    const common = [
      "--data",
      join(dir, "data"),
      "--store",
      "postgres",
      "--database-url",
      schema.url,
      "--redis-url",
      REDIS_URL,
      // This run's own namespace: other test runs or a bench may share the Redis.
      "--redis-prefix",
      `test-${schema.name}:`,
      "--http-port",
      "0",
      "--mqtt-port",
      "0",
      "--bootstrap-admin-key-file",
      keyFile,
    ];
    const started = await Promise.allSettled([startProcess(common), startProcess(common)]);
    const servers = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
    try {
      assert.equal(
        servers.length,
        2,
        String(started.map((s) => (s.status === "rejected" ? s.reason : "")).join(" ")),
      );
      const [a, b] = servers as [ServerProcess, ServerProcess];
      // Started at the same moment: exactly one bootstrapped (one CA, one admin), both serve it.
      assert.equal(servers.filter((s) => s.firstStart).length, 1);
      assert.equal(a.fingerprint, b.fingerprint);
      assert.ok(existsSync(keyFile));
      const rootPem = readFileSync(join(dir, "data", "root-ca.pem"), "utf8");
      const adminKey = readFileSync(keyFile, "utf8").trim();
      const apiA = apiOf(a.httpUrl, rootPem, adminKey);
      const apiB = apiOf(b.httpUrl, rootPem, adminKey);

      // Enrol through A's EST, connect the device to B's broker, see it online through A.
      const device = await enrolDirect(apiA, await createToken(apiA));
      const onB = await connect(b.mqttPort, rootPem, device);
      await waitFor("device online via A", async () => {
        const res = await apiA.api<{ online: boolean }>("GET", `/api/v1/devices/${device.deviceId}`);
        return res.body.online;
      });

      // The operator acts through A; the control bus carries it to B, which closes the session.
      const kicked = closed(onB, "disconnect through A");
      const res = await apiA.api("POST", `/api/v1/devices/${device.deviceId}/disconnect`);
      assert.equal(res.status, 202);
      await kicked;
      onB.end(true);

      // Broker pub/sub on Redis: the same device connecting to A takes over its session on B.
      const again = await connect(b.mqttPort, rootPem, device);
      const takenOver = closed(again, "takeover through A");
      const onA = await connect(a.mqttPort, rootPem, device);
      await takenOver;
      onA.end(true);
      again.end(true);

      // Issue #5 item 6: an operator disables the device through A while it is connected to B.
      const live = await connect(b.mqttPort, rootPem, device);
      const disabledKick = closed(live, "disable through A");
      const disabled = await apiA.api("POST", `/api/v1/devices/${device.deviceId}/disable`, {
        reason: "test",
      });
      assert.equal(disabled.status, 200, JSON.stringify(disabled.body));
      await disabledKick;
      live.end(true);
      // ...and it cannot come back on either process.
      await assert.rejects(connect(b.mqttPort, rootPem, device), /Not authorized|closed/i);
      await assert.rejects(connect(a.mqttPort, rootPem, device), /Not authorized|closed/i);
      // Issue #4 item 6 in scale-out: a certificate revoked through A closes its session on B
      // (the control bus carries the revocation), and the certificate is refused on both.
      const holder = await enrolDirect(apiA, await createToken(apiA));
      const holding = await connect(b.mqttPort, rootPem, holder);
      const revokedKick = closed(holding, "revocation through A");
      const serial = new X509Certificate(holder.certPem).serialNumber.toLowerCase();
      const revoked = await apiA.api("POST", `/api/v1/certificates/${serial}/revoke`, {
        reason: "keyCompromise",
      });
      assert.ok(revoked.status < 300, JSON.stringify(revoked.body));
      await revokedKick;
      holding.end(true);
      await assert.rejects(connect(b.mqttPort, rootPem, holder), /Not authorized|closed/i);
      await assert.rejects(connect(a.mqttPort, rootPem, holder), /Not authorized|closed/i);
      const health = await apiB.api<{ status: string }>("GET", "/healthz");
      assert.equal(health.body.status, "ok");

      // Process B dies without a word (SIGKILL) while a device is connected to it: A stops
      // showing that device online once B has missed three heartbeats.
      const survivor = await enrolDirect(apiA, await createToken(apiA));
      const stranded = await connect(b.mqttPort, rootPem, survivor);
      const onlineVia = async (api: TestServer) =>
        (await api.api<{ online: boolean }>("GET", `/api/v1/devices/${survivor.deviceId}`)).body.online;
      await waitFor("device on B online via A", async () => onlineVia(apiA));
      const dead = new Promise((resolve) => b.child.once("exit", resolve));
      b.child.kill("SIGKILL");
      await dead;
      stranded.end(true);
      await waitFor("device of the killed process offline via A", async () => !(await onlineVia(apiA)));
      // ...and it comes back online when it reconnects to the surviving process.
      const rescued = await connect(a.mqttPort, rootPem, survivor);
      await waitFor("device online again via A", async () => onlineVia(apiA));
      rescued.end(true);
    } finally {
      for (const server of servers) await stopChild(server.child);
      await schema.drop();
    }
  });
});
