import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { Duplex } from "node:stream";
import { after, before, describe, it } from "node:test";
import { deviceTopics } from "@bulwark/sdk/wire/topics";
import { enrolDirect } from "../../../../test/enrol-helpers.ts";
import { createToken, startTestServer, type TestServer } from "../../../../test/helpers.ts";
import { closed, closeOf, connectDevice } from "../../../../test/mqtt-helpers.ts";
import { DEFAULT_LIMITS, RateLimiter } from "./limits.ts";

describe("RateLimiter", () => {
  it("allows the burst, then the sustained rate, per key", () => {
    const limiter = new RateLimiter(10, 5);
    const t0 = 1_000_000;
    for (let i = 0; i < 5; i++) assert.ok(limiter.take("a", t0));
    assert.equal(limiter.take("a", t0), false);
    assert.ok(limiter.take("b", t0), "keys are independent");
    assert.equal(limiter.take("a", t0 + 50), false);
    assert.ok(limiter.take("a", t0 + 100), "one token back after 1/rate");
  });

  it("stays bounded under many keys", () => {
    const limiter = new RateLimiter(1, 1, 1000);
    for (let i = 0; i < 10_000; i++) limiter.take(`k${i}`, i);
    assert.ok(limiter.size <= 1000);
  });
});

describe("broker limits over real mutual TLS", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  it("an oversized packet closes the connection before its body is read; a normal one passes", async () => {
    const device = await enrolDirect(server, await createToken(server));
    const client = await connectDevice(server, device);
    const meta = deviceTopics(device.deviceId).meta;
    await client.publishAsync(meta, JSON.stringify({ model: "ok" }), { qos: 1 });
    const gone = closed(client, "a connection that sent an oversized packet");
    client.publish(meta, Buffer.alloc(DEFAULT_LIMITS.maxPacketBytes + 1024, 0x20), { qos: 1 });
    await gone;
    client.end(true);
  });

  it("a publish flood past the per-device burst closes the connection", async () => {
    const device = await enrolDirect(server, await createToken(server));
    const client = await connectDevice(server, device);
    const gone = closed(client, "a connection flooding publishes");
    const events = deviceTopics(device.deviceId).events;
    for (let i = 0; i < DEFAULT_LIMITS.publishBurst * 3; i++) client.publish(events, "{}", { qos: 0 });
    await gone;
    client.end(true);
  });

  it("keepalive 0 or above the limit is refused with a 3.1.1 return code (5)", async () => {
    const device = await enrolDirect(server, await createToken(server));
    await assert.rejects(connectDevice(server, device, { keepalive: 0 }), /Not authorized/i);
    await assert.rejects(
      connectDevice(server, device, { keepalive: DEFAULT_LIMITS.keepaliveMax + 1 }),
      /Not authorized/i,
    );
    const ok = await connectDevice(server, device, { keepalive: DEFAULT_LIMITS.keepaliveMin });
    await ok.endAsync();
  });

  it("a silent client is closed after 1.5 x its keepalive ([MQTT-3.1.2-24])", async (t) => {
    const device = await enrolDirect(server, await createToken(server));
    const answers: Buffer[] = [];
    const stream = new (class extends Duplex {
      authorized = true;
      override _read() {}
      override _write(chunk: Buffer, _e: BufferEncoding, done: () => void) {
        answers.push(chunk);
        done();
      }
      getPeerX509Certificate() {
        return new X509Certificate(device.certPem);
      }
    })();
    const id = Buffer.from(device.deviceId);
    const keepalive = DEFAULT_LIMITS.keepaliveMin;
    const body = Buffer.concat([
      Buffer.from([0, 4]),
      Buffer.from("MQTT"),
      Buffer.from([4, 0x02, 0, keepalive, 0, id.length]),
      id,
    ]);
    const start = performance.now();
    // 1.5 x 5 s of silence closes it; a broker that never does fails here, not at the runner's timeout.
    const gone = closeOf(stream, "a silent connection", 30_000);
    server.broker.handle(stream as never);
    stream.push(Buffer.concat([Buffer.from([0x10, body.length]), body]));
    await gone;
    t.diagnostic(
      `closed after ${((performance.now() - start) / 1000).toFixed(1)} s of silence (keepalive ${keepalive} s)`,
    );
    // CONNACK accepted (0x20 0x02 0x00 0x00), then silence until the broker gave up.
    assert.deepEqual([...Buffer.concat(answers).subarray(0, 4)], [0x20, 0x02, 0x00, 0x00]);
  });
});
