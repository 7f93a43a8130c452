import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { deviceTopics } from "@bulwark/sdk/wire/topics";
import type { AedesPublishPacket } from "aedes";
import { pino } from "pino";
import { capturingLog, FakeClient, recordingHooks, registry } from "../../../test/mqtt-handler-fixtures.ts";
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

describe("PUBLISH handlers: the ACL, the rate, routing to fleet's hooks", async () => {
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

  it("routes meta, events and job status to fleet's hooks; other topics nowhere", async () => {
    const { handlers, client, calls } = setup();
    const own = deviceTopics("dev-1");
    for (const topic of [own.meta, own.events, own.jobStatus("j1"), deviceTopics("dev-1").config])
      assert.equal(await published(handlers, client, packet(topic, `"${topic.split("/").pop()}"`)), null);
    assert.deepEqual(calls, [
      ["metadata", "dev-1", '"meta"'],
      ["report", "dev-1", '"events"'],
      ["jobStatus", "dev-1", "j1", '"status"'],
    ]);
    // A message of no session (the server's own publish) reaches no hook.
    assert.equal(await published(handlers, new FakeClient("x"), packet(own.meta)), null);
    assert.equal(calls.length, 3);
  });

  it("logs a hook that fails and lets Aedes go on", async () => {
    const { handlers, client, lines } = setup({ failHooks: new Error("store away") });
    assert.equal(await published(handlers, client, packet(deviceTopics("dev-1").meta)), null);
    assert.ok(lines.some((l) => l.msg === "device message not handled" && l.deviceId === "dev-1"));
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
