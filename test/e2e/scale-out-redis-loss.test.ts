import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { MqttClient } from "mqtt";
import { enrolDirect } from "../enrol-helpers.ts";
import { createToken, stopChild, type TestServer, tempDir, waitFor } from "../helpers.ts";
import { ownRedis } from "../redis-server.ts";
import { apiOf, closed, connect, logged, type ServerProcess, startProcess } from "../scale-out-helpers.ts";
import { freshSchema, needServices } from "../services.ts";

/** Every Redis connection of one server process (see control/redis-connection.ts). */
const ROLES = ["mqtt-pub", "mqtt-sub", "mqtt-sessions", "control-pub", "control-sub"];

/** Counts the closes of a device's connection (a kick, a dropped socket). */
function watchClose(client: MqttClient): { count: number } {
  const seen = { count: 0 };
  client.on("close", () => seen.count++);
  return seen;
}

describe("scale-out: Redis lost and back (issue #13 item 1)", () => {
  it("both processes stay up and keep their devices while Redis is away, and cluster events flow again once it returns", async (t) => {
    if (!(await needServices(t, ["postgres"]))) return;
    const redis = await ownRedis(t);
    if (!redis) return;
    const schema = freshSchema();
    await schema.create();
    const dir = tempDir("bulwark-redis-loss-");
    const keyFile = join(dir, "admin.key");
    const args = [
      ...["--data", join(dir, "data"), "--store", "postgres", "--database-url", schema.url],
      ...["--redis-url", redis.url, "--http-port", "0", "--mqtt-port", "0"],
      ...["--bootstrap-admin-key-file", keyFile],
    ];
    const env = { BULWARK_LOG_LEVEL: "info" };
    const started = await Promise.allSettled([startProcess(args, env), startProcess(args, env)]);
    const servers = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
    const clients: MqttClient[] = [];
    try {
      assert.equal(servers.length, 2, String(started.map((s) => (s.status === "rejected" ? s.reason : ""))));
      const [a, b] = servers as [ServerProcess, ServerProcess];
      const rootPem = readFileSync(join(dir, "data", "root-ca.pem"), "utf8");
      const adminKey = readFileSync(keyFile, "utf8").trim();
      const apiA = apiOf(a.httpUrl, rootPem, adminKey);
      const apiB = apiOf(b.httpUrl, rootPem, adminKey);
      const online = async (api: TestServer, deviceId: string) =>
        (await api.api<{ online: boolean }>("GET", `/api/v1/devices/${deviceId}`)).body.online;

      // One device on each process.
      const onA = await enrolDirect(apiA, await createToken(apiA));
      const onB = await enrolDirect(apiA, await createToken(apiA));
      const clientA = await connect(a.mqttPort, rootPem, onA);
      const clientB = await connect(b.mqttPort, rootPem, onB);
      clients.push(clientA, clientB);
      // A third device on B, to be disabled while Redis is away.
      const missed = await enrolDirect(apiA, await createToken(apiA));
      const missedClient = await connect(b.mqttPort, rootPem, missed);
      clients.push(missedClient);
      const closesMissed = watchClose(missedClient);
      const closesA = watchClose(clientA);
      const closesB = watchClose(clientB);
      await waitFor(
        "both devices online",
        async () => (await online(apiA, onA.deviceId)) && online(apiA, onB.deviceId),
      );

      // Redis dies. Before the fix both processes exited within ~2 s (unhandled 'error' of
      // mqemitter-redis); now each notices the loss on every connection and keeps serving.
      await redis.kill();
      for (const server of [a, b])
        await waitFor("every Redis connection noticed lost", async () => {
          if (server.child.exitCode !== null) throw new Error(`process exited: ${server.stderr.join("")}`);
          return ROLES.every((redis) => logged(server, "redis connection lost", { redis }) > 0);
        });

      // Still serving without Redis: the API answers, and a device's report on B is handled on B
      // (cross-process delivery is what degrades, not this process's own).
      for (const api of [apiA, apiB])
        assert.equal((await api.api<{ status: string }>("GET", "/healthz")).status, 200);
      const event = {
        type: "security-event",
        kind: "integrity-failure",
        at: new Date().toISOString(),
        detail: "outage",
      };
      clientB.publish(`bw/v1/d/${onB.deviceId}/events`, JSON.stringify(event), { qos: 0 });
      await waitFor("report made during the outage stored", async () => {
        const res = await apiB.api<{ items: { kind: string }[] }>(
          "GET",
          `/api/v1/security-events?device=${onB.deviceId}`,
        );
        return res.body.items.length === 1;
      });

      // A disable through A while Redis is away: committed, but its control event reaches no one.
      const disabledMeanwhile = await apiA.api("POST", `/api/v1/devices/${missed.deviceId}/disable`, {
        reason: "test",
      });
      assert.equal(disabledMeanwhile.status, 200, JSON.stringify(disabledMeanwhile.body));
      await waitFor(
        "the lost control event logged",
        async () => logged(a, "control event not published") > 0,
      );
      assert.equal(closesMissed.count, 0, "B could not know yet (the re-check below is what closes it)");

      // Redis comes back (empty): every connection is restored and the control bus subscribed again.
      await redis.start();
      for (const server of [a, b])
        await waitFor("Redis connections restored", async () => {
          if (server.child.exitCode !== null) throw new Error(`process exited: ${server.stderr.join("")}`);
          return (
            ROLES.every((redis) => logged(server, "redis connection restored", { redis }) > 0) &&
            logged(server, "control bus subscribed again") > 0
          );
        });
      // B re-checked its live sessions against the registry on rejoining: the device disabled
      // during the outage is closed.
      await waitFor("the device disabled during the outage closed", async () => closesMissed.count === 1);
      assert.ok(logged(b, "live sessions re-checked against the registry", { closed: 1 }) >= 1);
      // Nothing dropped either device meanwhile (the kicks below are the positive control).
      assert.equal(closesA.count + closesB.count, 0, "no device lost its connection");
      assert.ok(await online(apiB, onA.deviceId));
      assert.ok(await online(apiA, onB.deviceId));

      // A disable through A reaches the device on B (control bus), and one through B the device on A.
      const kickedB = closed(clientB, "disable through A");
      const disableB = await apiA.api("POST", `/api/v1/devices/${onB.deviceId}/disable`, { reason: "test" });
      assert.equal(disableB.status, 200, JSON.stringify(disableB.body));
      await kickedB;
      const kickedA = closed(clientA, "disable through B");
      const disableA = await apiB.api("POST", `/api/v1/devices/${onA.deviceId}/disable`, { reason: "test" });
      assert.equal(disableA.status, 200, JSON.stringify(disableA.body));
      await kickedA;

      // The broker's own pub/sub is back too: a device connecting to A takes over its session on B.
      const roaming = await enrolDirect(apiA, await createToken(apiA));
      const first = await connect(b.mqttPort, rootPem, roaming);
      clients.push(first);
      const takenOver = closed(first, "takeover through A");
      clients.push(await connect(a.mqttPort, rootPem, roaming));
      await takenOver;
      for (const server of [a, b]) assert.equal(server.child.exitCode, null);
    } finally {
      for (const client of clients) client.end(true);
      for (const server of servers) await stopChild(server.child);
      await schema.drop();
    }
  });
});
