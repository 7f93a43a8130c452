import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pino from "pino";
import { waitFor } from "../../../../test/helpers.ts";
import { ownRedis } from "../../../../test/redis-server.ts";
import { reconnectDelay, redisConnection } from "./redis-connection.ts";

/** A logger whose lines the test reads back. */
function capturedLog() {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: "debug" }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const find = (msg: string) => lines.find((line) => line.msg === msg);
  return { log, lines, find };
}

describe("redis connection", () => {
  it("backs off from 100 ms, doubling up to 5 s, each delay in the upper half of its step", () => {
    const low = () => 0;
    const high = () => 1;
    assert.deepEqual(
      [1, 2, 3].map((n) => reconnectDelay(n, high)),
      [100, 200, 400],
    );
    assert.deepEqual(
      [1, 2, 3].map((n) => reconnectDelay(n, low)),
      [50, 100, 200],
    );
    assert.equal(reconnectDelay(7, high), 5000);
    assert.equal(reconnectDelay(10_000, high), 5000);
    assert.equal(reconnectDelay(10_000, low), 2500);
  });

  it("survives Redis going away: commands then fail (never as unhandled rejections), the loss and return are logged once, and it reconnects by itself", async (t) => {
    const redis = await ownRedis(t);
    if (!redis) return;
    const { log, lines, find } = capturedLog();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    t.after(() => process.off("unhandledRejection", onUnhandled));
    const conn = redisConnection(redis.url, "mqtt-sessions", log);
    t.after(() => conn.disconnect());
    assert.equal(await conn.set("k", "before"), "OK");

    await redis.kill();
    await waitFor("loss logged", async () => find("redis connection lost"));
    // aedes-persistence-redis issues some commands without awaiting them (a will's list
    // bookkeeping): their failure must not become an unhandled rejection, which ends the process.
    void conn.lrem("will", 0, "x");
    void conn.rpush("will", "x");
    // A command that is awaited still fails for its caller.
    await assert.rejects(conn.get("k"), /max retries per request|Connection is closed/i);

    await redis.start();
    const restored = await waitFor("return logged", async () => find("redis connection restored"));
    assert.equal(restored.failedCommands, 3, "the three commands made during the outage were counted");
    assert.equal(await conn.set("k", "after"), "OK");
    assert.deepEqual(unhandled, []);
    assert.equal(
      lines.filter((line) => line.msg === "redis connection lost").length,
      1,
      "one line per outage",
    );
    assert.equal(restored.redis, "mqtt-sessions");
  });
});
