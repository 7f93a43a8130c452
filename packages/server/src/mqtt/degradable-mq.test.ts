import assert from "node:assert/strict";
import { it } from "node:test";
import { Aedes, type AedesPublishPacket } from "aedes";
import pino from "pino";
import { waitFor } from "../../../../test/helpers.ts";
import { ownRedis } from "../../../../test/redis-server.ts";
import { redisBrokerBackends } from "./redis-backends.ts";

/** One server process's broker on the Redis backends, with its log lines readable. */
async function node(url: string) {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: "debug" }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const backends = redisBrokerBackends(url, "test:", log);
  const broker = await Aedes.createBroker({ mq: backends.mq, persistence: backends.persistence });
  const got: string[] = [];
  const deliver = (packet: AedesPublishPacket, done: () => void) => {
    got.push(String(packet.payload));
    done();
  };
  await new Promise<void>((resolve) => broker.subscribe("bw/v1/d/x/cmd", deliver, () => resolve()));
  const count = (msg: string, redis: string) =>
    lines.filter((l) => l.msg === msg && l.redis === redis).length;
  return {
    got,
    /** Resolves once every connection this node's pub/sub uses logged `msg` (`times` times). */
    noted: (msg: string, times = 1) =>
      waitFor(msg, async () => count(msg, "mqtt-pub") >= times && count(msg, "mqtt-sub") >= times),
    publish: (payload: string) =>
      new Promise<void>((resolve, reject) =>
        broker.publish(
          { cmd: "publish", topic: "bw/v1/d/x/cmd", payload, qos: 0, retain: false, dup: false },
          (e) => (e ? reject(e) : resolve()),
        ),
      ),
    async close() {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await backends.close();
    },
  };
}

it("without Redis, the broker's pub/sub delivers within the process and closes; with Redis back, across processes again", {
  timeout: 60_000,
}, async (t) => {
  const redis = await ownRedis(t);
  if (!redis) return;
  const a = await node(redis.url);
  const b = await node(redis.url);
  await a.publish("shared");
  await waitFor("first message on both", async () => a.got.length === 1 && b.got.length === 1);

  await redis.kill();
  await Promise.all([a.noted("redis connection lost"), b.noted("redis connection lost")]);
  // Published while Redis is away: the publisher is not failed (a device's PUBLISH would have
  // closed its connection) and this process's subscribers get it.
  await a.publish("here only");
  assert.deepEqual(a.got, ["shared", "here only"]);

  await redis.start();
  await Promise.all([a.noted("redis connection restored"), b.noted("redis connection restored")]);
  await a.publish("shared again");
  await waitFor("the next message on B", async () => b.got.length === 2);
  // B never saw the outage's message: cross-process delivery is what degraded, and it came back.
  assert.deepEqual(b.got, ["shared", "shared again"]);
  assert.deepEqual(a.got, ["shared", "here only", "shared again"]);

  // Shutting down while Redis is away does not wait for its return (it hung before).
  await redis.kill();
  await Promise.all([a.noted("redis connection lost", 2), b.noted("redis connection lost", 2)]);
  await Promise.all([a.close(), b.close()]);
});
