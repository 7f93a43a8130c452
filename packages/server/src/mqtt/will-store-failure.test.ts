import assert from "node:assert/strict";
import { createServer } from "node:net";
import { it } from "node:test";
import { Aedes } from "aedes";
import { Redis } from "ioredis";
import mqtt from "mqtt";
import pino from "pino";
import { ownRedis } from "../../../../test/redis-server.ts";
import { redisBrokerBackends } from "./redis-backends.ts";

it("a CONNECT with a will whose old will cannot be deleted (Redis refuses) goes on; no unhandled rejection", async (t) => {
  const redis = await ownRedis(t);
  if (!redis) return;
  // Redis refuses GET to this deployment (an ACL, as a misconfiguration or a policy would): the
  // session store's delWill reads the old will with GET before deleting it.
  const admin = new Redis(redis.url);
  await admin.call("ACL", "SETUSER", "default", "-get");
  admin.disconnect();
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on("unhandledRejection", onUnhandled);
  t.after(() => process.off("unhandledRejection", onUnhandled));

  const backends = redisBrokerBackends(redis.url, "test:", log);
  const broker = await Aedes.createBroker({ mq: backends.mq, persistence: backends.persistence });
  const server = createServer((socket) => broker.handle(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(async () => {
    await new Promise((resolve) => server.close(resolve));
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await backends.close();
  });
  const port = (server.address() as { port: number }).port;
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
    protocolVersion: 4,
    clientId: "d1",
    reconnectPeriod: 0,
    will: { topic: "bw/v1/d/d1/events", payload: Buffer.from("gone"), qos: 0, retain: false },
  });
  t.after(() => client.endAsync(true));
  assert.ok(client.connected);
  assert.ok(lines.some((l) => l.msg === "stored will not deleted" && /NOPERM/.test(String(l.reason))));
  assert.deepEqual(unhandled, []);
});
