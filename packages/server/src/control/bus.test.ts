import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Redis } from "ioredis";
import { needServices, REDIS_URL } from "../../../../test/services.ts";
import { type ControlEvent, LocalControlBus, parseControlEvent } from "./bus.ts";
import { RedisControlBus } from "./redis-bus.ts";

const ID = "3b241101-e2bb-4255-8caf-4136c566a962";

describe("control bus", () => {
  it("validates events that come from outside the process", () => {
    assert.deepEqual(parseControlEvent({ type: "device.disconnect", deviceId: ID }), {
      type: "device.disconnect",
      deviceId: ID,
    });
    for (const bad of [
      null,
      "device.disconnect",
      { type: "device.disconnect" },
      { type: "device.disconnect", deviceId: "../../etc" },
      { type: "device.disconnect", deviceId: ID, extra: 1 },
      { type: "device.explode", deviceId: ID },
    ])
      assert.equal(parseControlEvent(bad), undefined, JSON.stringify(bad));
  });

  it("in-process: delivers to every subscriber; a failing one does not stop the others", async () => {
    const errors: unknown[] = [];
    const bus = new LocalControlBus((e) => errors.push(e));
    const seen: ControlEvent[] = [];
    bus.subscribe(() => {
      throw new Error("handler failed");
    });
    const off = bus.subscribe((e) => seen.push(e));
    await bus.publish({ type: "device.disconnect", deviceId: ID });
    off();
    await bus.publish({ type: "device.disconnect", deviceId: ID });
    assert.equal(seen.length, 1);
    assert.equal(errors.length, 2);
  });

  it("Redis: an event published by one process reaches the other once, and junk is dropped", async (t) => {
    if (!(await needServices(t, ["redis"]))) return;
    const errors: unknown[] = [];
    const a = await RedisControlBus.connect(REDIS_URL, (e) => errors.push(e));
    const b = await RedisControlBus.connect(REDIS_URL, (e) => errors.push(e));
    const raw = new Redis(REDIS_URL);
    try {
      const seenA: ControlEvent[] = [];
      const seenB: ControlEvent[] = [];
      a.subscribe((e) => seenA.push(e));
      const arrived = new Promise<void>((resolve) =>
        b.subscribe((e) => {
          seenB.push(e);
          resolve();
        }),
      );
      await raw.publish(
        "bulwark:control:v1",
        JSON.stringify({ origin: "x", event: { type: "device.explode" } }),
      );
      await a.publish({ type: "device.disconnect", deviceId: ID });
      await arrived;
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(seenA, [{ type: "device.disconnect", deviceId: ID }]);
      assert.deepEqual(seenB, [{ type: "device.disconnect", deviceId: ID }]);
      assert.ok(errors.length >= 1 && errors.every((e) => /malformed or unknown/.test((e as Error).message)));
    } finally {
      raw.disconnect();
      await a.close();
      await b.close();
    }
  });
});
