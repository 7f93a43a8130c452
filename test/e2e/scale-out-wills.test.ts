import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Redis } from "ioredis";
import type { MqttClient } from "mqtt";
import { enrolDirect } from "../enrol-helpers.ts";
import { createToken, stopChild, tempDir, waitFor } from "../helpers.ts";
import { apiOf, connect, logged, type ServerProcess, startProcess } from "../scale-out-helpers.ts";
import { freshSchema, needServices, REDIS_URL } from "../services.ts";

const report = (detail: string) =>
  JSON.stringify({ type: "security-event", kind: "integrity-failure", at: new Date().toISOString(), detail });

describe("scale-out: the wills of a killed process's sessions (issue #13 item 2)", () => {
  it("are published by another process under their device's ACL, or refused and dropped; no will ends a process", async (t) => {
    if (!(await needServices(t, ["postgres", "redis"]))) return;
    const schema = freshSchema();
    await schema.create();
    const dir = tempDir("bulwark-wills-");
    const keyFile = join(dir, "admin.key");
    const prefix = `test-${schema.name}:`;
    const args = [
      ...["--data", join(dir, "data"), "--store", "postgres", "--database-url", schema.url],
      ...["--redis-url", REDIS_URL, "--redis-prefix", prefix, "--http-port", "0", "--mqtt-port", "0"],
      ...["--bootstrap-admin-key-file", keyFile],
    ];
    // A 300 ms heartbeat: a process is dead after ~1 s and the will sweep runs every 1.2 s
    // (Aedes' defaults, 3 and 4 minutes, are what made the crash come 240 s after the kill).
    const env = { BULWARK_HEARTBEAT_MS: "300" };
    const started = await Promise.allSettled([startProcess(args, env), startProcess(args, env)]);
    const servers = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
    const clients: MqttClient[] = [];
    const redis = new Redis(REDIS_URL);
    try {
      assert.equal(servers.length, 2, String(started.map((s) => (s.status === "rejected" ? s.reason : ""))));
      const [a, b] = servers as [ServerProcess, ServerProcess];
      const rootPem = readFileSync(join(dir, "data", "root-ca.pem"), "utf8");
      const api = apiOf(b.httpUrl, rootPem, adminKeyOf(keyFile));
      const device = async () => enrolDirect(api, await createToken(api));
      const [honest, forger, victim, bystander] = [
        await device(),
        await device(),
        await device(),
        await device(),
      ];

      // The victim listens on its command topic on B; the bystander, with a will, stays on B.
      const onVictim: string[] = [];
      const victimClient = await connect(b.mqttPort, rootPem, victim);
      clients.push(victimClient);
      victimClient.on("message", (topic) => onVictim.push(topic));
      await victimClient.subscribeAsync(`bw/v1/d/${victim.deviceId}/cmd`, { qos: 1 });
      const will = (topic: string, detail: string) => ({
        will: { topic, payload: Buffer.from(report(detail)), qos: 0 as const, retain: false },
      });
      clients.push(
        await connect(
          b.mqttPort,
          rootPem,
          bystander,
          will(`bw/v1/d/${bystander.deviceId}/events`, "bystander"),
        ),
      );
      // On A: one will on the device's own events topic, one forged onto the victim's command topic.
      clients.push(
        await connect(a.mqttPort, rootPem, honest, will(`bw/v1/d/${honest.deviceId}/events`, "honest")),
      );
      clients.push(
        await connect(a.mqttPort, rootPem, forger, will(`bw/v1/d/${victim.deviceId}/cmd`, "forged")),
      );
      const willKeys = () => redis.keys(`${prefix}mqtt:will:*`);
      await waitFor("three wills stored", async () => (await willKeys()).length === 3);

      // A is killed: its sessions' wills stay in Redis for B's will sweep.
      const dead = new Promise((resolve) => a.child.once("exit", resolve));
      a.child.kill("SIGKILL");
      await dead;

      // Before the fix B exited at its first sweep ("not authenticated" unhandled on Aedes), and
      // again at every restart, the will being still there. Now the honest will is published as
      // its device (and handled: the report is stored), the forged one refused and deleted.
      const events = async (deviceId: string) =>
        (await api.api<{ items: { detail: string }[] }>("GET", `/api/v1/security-events?device=${deviceId}`))
          .body.items;
      const exitOfB = new Promise<never>((_, reject) =>
        b.child.once("exit", () => reject(new Error(`B exited: ${b.stderr.join("").slice(-2000)}`))),
      );
      exitOfB.catch(() => {});
      // A request cut by B's death fails before B's exit is seen: B's exit is the answer then.
      const whileBLives = <T>(what: string, check: () => Promise<T | false>) =>
        Promise.race([waitFor(what, () => check().catch(() => false as const)), exitOfB]);
      await whileBLives("the honest will published and handled", async () =>
        (await events(honest.deviceId)).some((e) => e.detail === "honest"),
      );
      await whileBLives(
        "the forged will refused",
        async () =>
          logged(b, "will of a stopped process's session refused and dropped", {
            deviceId: forger.deviceId,
            refusal: "foreign-topic",
          }) === 1,
      );
      // Only the will of the live session on B is left: nothing for a later sweep to trip on.
      await whileBLives("the dead process's wills gone", async () => (await willKeys()).length === 1);
      assert.deepEqual(onVictim, [], "the forged will never reached the victim");
      assert.deepEqual(await events(bystander.deviceId), [], "a live session's will is not published");
      assert.equal((await api.api<{ status: string }>("GET", "/healthz")).body.status, "ok");
      assert.equal(b.child.exitCode, null);
    } finally {
      for (const client of clients) client.end(true);
      for (const server of servers) await stopChild(server.child);
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
      await schema.drop();
    }
  });
});

const adminKeyOf = (file: string) => readFileSync(file, "utf8").trim();
