import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { Redis } from "ioredis";
import { needServices, REDIS_URL } from "../../../../test/services.ts";
import { type ControlEvent, LocalControlBus, parseControlEvent } from "./bus.ts";
import { controlChannel, RedisControlBus } from "./redis-bus.ts";

const ID = "3b241101-e2bb-4255-8caf-4136c566a962";
const ID2 = "9f0c4a3e-51d2-4c1e-8a7b-2d6e0f1b3c4d";

/** A prefix of this test run alone: other runs and a bench may share the same Redis. */
const testPrefix = () => `test-${randomBytes(4).toString("hex")}:`;

/** The next event a bus delivers (subscribed before the publish it waits for). */
function nextEvent(bus: RedisControlBus): Promise<ControlEvent> {
  return new Promise((resolve) => {
    const off = bus.subscribe((e) => {
      off();
      resolve(e);
    });
  });
}

describe("control bus", () => {
  it("validates events that come from outside the process", () => {
    assert.deepEqual(parseControlEvent({ type: "device.disconnect", deviceId: ID }), {
      type: "device.disconnect",
      deviceId: ID,
    });
    assert.deepEqual(
      parseControlEvent({ type: "certificate.revoked", deviceId: ID, serial: "019ae9", origin: "p1" }),
      { type: "certificate.revoked", deviceId: ID, serial: "019ae9", origin: "p1" },
    );
    for (const bad of [
      null,
      "device.disconnect",
      { type: "device.disconnect" },
      { type: "device.disconnect", deviceId: "../../etc" },
      { type: "device.disconnect", deviceId: ID, extra: 1 },
      { type: "device.explode", deviceId: ID },
      { type: "certificate.revoked", deviceId: ID },
      { type: "certificate.revoked", deviceId: ID, serial: "0A1B" },
      { type: "certificate.revoked", deviceId: ID, serial: "0".repeat(41) },
      { type: "certificate.revoked", deviceId: ID, serial: 12 },
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
    const prefix = testPrefix();
    const a = await RedisControlBus.connect(REDIS_URL, prefix, (e) => errors.push(e));
    const b = await RedisControlBus.connect(REDIS_URL, prefix, (e) => errors.push(e));
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
        controlChannel(prefix),
        JSON.stringify({ origin: "x", event: { type: "device.explode" } }),
      );
      await a.publish({ type: "device.disconnect", deviceId: ID });
      await arrived;
      // Positive control: a later event from B reaches both. Redis hands each subscriber messages in
      // the order it ran the PUBLISHes, so a second copy of A's event would have arrived before it.
      const laterAtA = nextEvent(a);
      const laterAtB = nextEvent(b);
      await b.publish({ type: "device.disconnect", deviceId: ID2 });
      await Promise.all([laterAtA, laterAtB]);
      const once = [
        { type: "device.disconnect", deviceId: ID },
        { type: "device.disconnect", deviceId: ID2 },
      ];
      assert.deepEqual(seenA, once);
      assert.deepEqual(seenB, once);
      assert.ok(errors.length >= 1 && errors.every((e) => /malformed or unknown/.test((e as Error).message)));
    } finally {
      raw.disconnect();
      await a.close();
      await b.close();
    }
  });

  it("Redis: two deployments under different prefixes do not hear each other's events", async (t) => {
    if (!(await needServices(t, ["redis"]))) return;
    const errors: unknown[] = [];
    const [prefixA, prefixB] = [testPrefix(), testPrefix()];
    const connect = (prefix: string) => RedisControlBus.connect(REDIS_URL, prefix, (e) => errors.push(e));
    const [a1, a2, b1, b2] = await Promise.all([prefixA, prefixA, prefixB, prefixB].map(connect));
    try {
      const seenA2: ControlEvent[] = [];
      const seenB2: ControlEvent[] = [];
      a2!.subscribe((e) => seenA2.push(e));
      b2!.subscribe((e) => seenB2.push(e));
      // Redis hands each subscriber its messages in the order it ran the PUBLISH commands: once the
      // other deployment's later event has arrived, an event that leaked across would have too.
      const atA2 = nextEvent(a2!);
      await a1!.publish({ type: "device.disconnect", deviceId: ID });
      await atA2;
      const atB2 = nextEvent(b2!);
      await b1!.publish({ type: "device.disconnect", deviceId: ID2 });
      await atB2;
      const again = nextEvent(a2!);
      await a1!.publish({ type: "device.disconnect", deviceId: ID });
      await again;
      assert.deepEqual(
        seenB2.map((e) => (e as { deviceId: string }).deviceId),
        [ID2],
        "deployment B heard only B",
      );
      assert.deepEqual(
        seenA2.map((e) => (e as { deviceId: string }).deviceId),
        [ID, ID],
        "deployment A heard only A",
      );
      assert.deepEqual(errors, []);
    } finally {
      for (const bus of [a1, a2, b1, b2]) await bus!.close();
    }
  });
});
