import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { deviceTopics } from "@bulwark/sdk/wire/topics";
import type { AedesPublishPacket } from "aedes";
import { pino } from "pino";
import { waitFor } from "../../../../../test/helpers.ts";
import { capturingLog, FakeClient, recordingHooks, registry } from "../../../test/mqtt-handler-fixtures.ts";
import { closeSession } from "../in-flight.ts";
import { RateLimiter } from "../limits.ts";
import { OrphanWills } from "../orphan-wills.ts";
import { MqttRefusal } from "../refusal.ts";
import { SessionRegistry } from "../sessions.ts";
import { publishHandlers } from "./publish.ts";

const packet = (topic: string, payload = "{}", extra: Partial<AedesPublishPacket> = {}) =>
  ({
    cmd: "publish",
    topic,
    payload: Buffer.from(payload),
    qos: 1,
    retain: false,
    dup: false,
    ...extra,
  }) as AedesPublishPacket;

describe("PUBLISH handlers: the ACL, the rate, handling by fleet's hooks before the PUBACK", async () => {
  const { store } = await registry();
  after(() => store.close());
  const wills = new OrphanWills({
    store,
    log: pino({ level: "silent" }),
    holderAlive: async () => false,
    drop: async () => {},
  });
  const setup = (options: { burst?: number; failHooks?: Error } = {}) => {
    const { log, lines } = capturingLog();
    const sessions = new SessionRegistry();
    const { hooks, calls } = recordingHooks(options.failHooks);
    const publishRate = new RateLimiter(0, options.burst ?? 50);
    const handlers = publishHandlers({
      log,
      sessions,
      hooks,
      publishRate,
      orphanWills: wills,
      instanceId: "self",
    });
    const client = new FakeClient("dev-1");
    sessions.authenticate(client.aedes, { deviceId: "dev-1", serial: "01" }, "active", 0);
    return { handlers, sessions, calls, lines, client };
  };
  const authorize = (
    handlers: ReturnType<typeof publishHandlers>,
    client: FakeClient | null,
    p: AedesPublishPacket,
  ) =>
    new Promise<Error | null | undefined>((resolve) =>
      handlers.authorizePublish(client?.aedes ?? null, p, resolve),
    );
  const published = (
    handlers: ReturnType<typeof publishHandlers>,
    client: FakeClient,
    p: AedesPublishPacket,
  ) => new Promise<Error | null | undefined>((resolve) => handlers.published(p, client.aedes, resolve));

  it("authorises the device's own topics and refuses the rest with a typed refusal", async () => {
    const { handlers, client, lines } = setup();
    const own = deviceTopics("dev-1");
    assert.equal(await authorize(handlers, client, packet(own.events)), null);
    const refusals = [
      [packet(deviceTopics("dev-2").events), "foreign-topic"],
      [packet(own.meta, "{}", { retain: true }), "retain-not-allowed"],
      [packet(own.meta, "{}", { qos: 2 }), "qos-not-allowed"],
      [packet(`${own.meta}\uFFFD`), "malformed-utf8"],
    ] as const;
    for (const [p, reason] of refusals) {
      const error = await authorize(handlers, client, p);
      assert.ok(error instanceof MqttRefusal && error.reason === reason, reason);
    }
    assert.equal(lines.filter((l) => l.msg === "mqtt publish refused").length, refusals.length);
    const stranger = await authorize(handlers, new FakeClient("dev-3"), packet(own.events));
    assert.ok(stranger instanceof MqttRefusal && stranger.reason === "not-authenticated");
  });

  it("refuses a PUBLISH of a status that may not publish it (a decommissioned device: job status only)", async () => {
    const { handlers, client, sessions } = setup();
    sessions.ready(client.aedes);
    sessions.setStatus("dev-1", "decommissioned");
    const own = deviceTopics("dev-1");
    const error = await authorize(handlers, client, packet(own.events));
    assert.ok(error instanceof MqttRefusal && error.reason === "not-in-this-status");
    assert.equal(await authorize(handlers, client, packet(own.jobStatus("j1"))), null);
  });

  it("closes a flood: over the burst, a PUBLISH is refused as rate-limited", async () => {
    const { handlers, client, lines } = setup({ burst: 2 });
    const events = packet(deviceTopics("dev-1").events);
    assert.equal(await authorize(handlers, client, events), null);
    assert.equal(await authorize(handlers, client, events), null);
    const error = await authorize(handlers, client, events);
    assert.ok(error instanceof MqttRefusal && error.reason === "rate-limited");
    assert.ok(lines.some((l) => l.msg === "mqtt publish rate exceeded, closing"));
  });

  it("routes meta, events and job status to fleet's hooks before it authorises; other topics nowhere", async () => {
    const { handlers, client, calls } = setup();
    const own = deviceTopics("dev-1");
    for (const topic of [own.meta, own.events, own.jobStatus("j1")])
      assert.equal(await authorize(handlers, client, packet(topic, `"${topic.split("/").pop()}"`)), null);
    assert.deepEqual(calls, [
      ["metadata", "dev-1", '"meta"'],
      ["report", "dev-1", '"events"'],
      ["jobStatus", "dev-1", "j1", '"status"'],
    ]);
    // A job status that is not JSON is parsed once here and reaches no hook (acknowledged: the
    // device would only send it again); the JSON one after it does.
    assert.equal(await authorize(handlers, client, packet(own.jobStatus("j2"), "{not json")), null);
    assert.equal(
      await authorize(handlers, client, packet(own.jobStatus("j3"), '{"state":"verifying"}')),
      null,
    );
    assert.deepEqual(calls.slice(3), [["jobStatus", "dev-1", "j3", '{"state":"verifying"}']]);
    // Aedes' `published` after that routes nothing again, nor the server's own publish of no session.
    assert.equal(await published(handlers, client, packet(own.meta)), null);
    assert.equal(await published(handlers, new FakeClient("x"), packet(own.meta)), null);
    assert.equal(calls.length, 4);
  });

  it("does not authorise (so Aedes sends no PUBACK) a message whose hook failed; the device sends it again", async () => {
    const { handlers, client, lines } = setup({ failHooks: new Error("store away") });
    const error = await authorize(handlers, client, packet(deviceTopics("dev-1").meta));
    assert.ok(error instanceof MqttRefusal && error.reason === "not-handled");
    assert.ok(
      lines.some((l) => l.msg === "device message not handled, not acknowledged" && l.deviceId === "dev-1"),
    );
  });

  it("authorises a message only once its hook has finished, one device's messages in the order received", async () => {
    const { log } = capturingLog();
    const sessions = new SessionRegistry();
    const started: string[] = [];
    const gates = new Map<string, () => void>();
    const hold = (what: string) =>
      new Promise<void>((resolve) => {
        started.push(what);
        gates.set(what, resolve);
      });
    const handlers = publishHandlers({
      log,
      sessions,
      hooks: {
        subscribed: async () => {},
        metadata: () => hold("meta"),
        report: () => hold("events"),
        jobStatus: (_d, jobId) => hold(jobId),
      },
      publishRate: new RateLimiter(0, 50),
      orphanWills: wills,
      instanceId: "self",
    });
    const client = new FakeClient("dev-1");
    sessions.authenticate(client.aedes, { deviceId: "dev-1", serial: "01" }, "active", 0);
    const own = deviceTopics("dev-1");
    const done: string[] = [];
    // Aedes dispatches the packets of one socket read together.
    const first = authorize(handlers, client, packet(own.jobStatus("j1"))).then(() => done.push("j1"));
    const second = authorize(handlers, client, packet(own.jobStatus("j2"))).then(() => done.push("j2"));
    await waitFor("the first hook to start", async () => gates.has("j1"));
    assert.deepEqual(started, ["j1"], "the second waits for the first");
    assert.deepEqual(done, [], "not authorised (no PUBACK) while its hook runs");
    gates.get("j1")!();
    await first;
    assert.deepEqual(done, ["j1"]);
    await waitFor("the second hook to start", async () => gates.has("j2"));
    assert.deepEqual(done, ["j1"], "the second is not authorised before its own hook finished");
    gates.get("j2")!();
    await second;
    assert.deepEqual(done, ["j1", "j2"]);
  });

  it("after a message that failed, handles none of the device's messages queued behind it", async () => {
    const { handlers, client, calls } = setup({ failHooks: new Error("store away") });
    const own = deviceTopics("dev-1");
    const [a, b] = await Promise.all([
      authorize(handlers, client, packet(own.jobStatus("j1"))),
      authorize(handlers, client, packet(own.jobStatus("j2"))),
    ]);
    assert.ok(a instanceof MqttRefusal && a.reason === "not-handled");
    assert.ok(b instanceof MqttRefusal && b.reason === "not-handled");
    assert.deepEqual(calls, [["jobStatus", "dev-1", "j1", "{}"]], "j2 is left to be sent again");
  });

  it("closes a session its own message's handling ends (a wipe confirmation) only after that message's PUBACK", async () => {
    const { log } = capturingLog();
    const sessions = new SessionRegistry();
    const order: string[] = [];
    const client = new FakeClient("dev-1");
    const other = new FakeClient("dev-2");
    const handlers = publishHandlers({
      log,
      sessions,
      hooks: {
        subscribed: async () => {},
        metadata: async () => {},
        report: async () => {},
        async jobStatus() {
          closeSession(other.aedes); // not the session whose message this is: at once
          order.push(`other closed: ${other.closed}`);
          closeSession(client.aedes);
          order.push(`own closed: ${client.closed}`);
        },
      },
      publishRate: new RateLimiter(0, 50),
      orphanWills: wills,
      instanceId: "self",
    });
    sessions.authenticate(client.aedes, { deviceId: "dev-1", serial: "01" }, "active", 0);
    const error = await new Promise<Error | null | undefined>((resolve) =>
      handlers.authorizePublish(client.aedes, packet(deviceTopics("dev-1").jobStatus("wipe-1")), (e) => {
        order.push(`acknowledged, own closed: ${client.closed}`);
        resolve(e);
      }),
    );
    assert.equal(error, null);
    assert.deepEqual(order, ["other closed: true", "own closed: false", "acknowledged, own closed: false"]);
    assert.equal(client.closed, true, "closed right after the PUBACK");
  });

  it("a PUBACK still buffered in the connection goes out before the session closes (not destroyed with it)", async () => {
    const { log } = capturingLog();
    const sessions = new SessionRegistry();
    const client = new FakeClient("dev-1");
    // What Aedes writes (the PUBACK) stays buffered: nobody reads the connection yet, and 64 KiB
    // fill its buffers, as a TLS socket's right after the handshake.
    const filler = Buffer.alloc(64 * 1024, 1);
    const puback = Buffer.from([0x40, 0x02, 0x00, 0x01]);
    const handlers = publishHandlers({
      log,
      sessions,
      hooks: {
        subscribed: async () => {},
        metadata: async () => {},
        report: async () => {},
        async jobStatus() {
          client.conn.write(filler);
          closeSession(client.aedes);
        },
      },
      publishRate: new RateLimiter(0, 50),
      orphanWills: wills,
      instanceId: "self",
    });
    sessions.authenticate(client.aedes, { deviceId: "dev-1", serial: "01" }, "active", 0);
    const error = await new Promise<Error | null | undefined>((resolve) =>
      handlers.authorizePublish(client.aedes, packet(deviceTopics("dev-1").jobStatus("wipe-1")), (e) => {
        client.conn.write(puback); // as Aedes writes the PUBACK within `done`
        resolve(e);
      }),
    );
    assert.equal(error, null);
    assert.ok(client.conn.writableLength > 0, "the PUBACK is still buffered");
    assert.equal(client.closed, false, "not closed while it is");
    const received: Buffer[] = [];
    client.conn.on("data", (chunk: Buffer) => received.push(chunk));
    await waitFor("closed once flushed", async () => client.closed);
    const all = Buffer.concat(received);
    assert.equal(all.length, filler.length + puback.length);
    assert.deepEqual(all.subarray(-4), puback, "the PUBACK got out first");
  });

  it("hands another process's stored will to the orphan-will check", async () => {
    const { handlers } = setup();
    const will = {
      ...packet(deviceTopics("unknown-device").events),
      clientId: "unknown-device",
      brokerId: "gone",
    };
    const error = await authorize(handlers, null, will);
    assert.ok(error instanceof MqttRefusal && error.reason === "unknown-device");
  });
});
