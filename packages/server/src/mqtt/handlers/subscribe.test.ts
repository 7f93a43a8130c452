import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { deviceTopics } from "@bulwark/sdk/wire/topics";
import type { Subscription } from "aedes";
import { capturingLog, FakeClient, recordingHooks } from "../../../test/mqtt-handler-fixtures.ts";
import { MqttRefusal } from "../refusal.ts";
import { SessionRegistry } from "../sessions.ts";
import { authorizeSubscribe, subscribed } from "./subscribe.ts";

describe("SUBSCRIBE handlers", () => {
  const setup = () => {
    const { log, lines } = capturingLog();
    const sessions = new SessionRegistry();
    const { hooks, calls } = recordingHooks();
    const client = new FakeClient("dev-1");
    sessions.authenticate(client.aedes, { deviceId: "dev-1", serial: "01" }, "quarantined", 0);
    const deps = { log, sessions, hooks };
    return { authorize: authorizeSubscribe(deps), subscribed: subscribed(deps), client, calls, lines };
  };
  const ask = (authorize: ReturnType<typeof authorizeSubscribe>, client: FakeClient, topic: string) =>
    new Promise<[Error | null, Subscription | null | undefined]>((resolve) =>
      authorize(client.aedes, { topic, qos: 1 }, (error, granted) => resolve([error, granted])),
    );

  it("grants the device's own server → device topics only; a refused filter gets 0x80 and the session stays", async () => {
    const { authorize, client, lines } = setup();
    const own = deviceTopics("dev-1");
    assert.deepEqual(await ask(authorize, client, own.config), [null, { topic: own.config, qos: 1 }]);
    // MQTT 3.1.1 §3.9.3: `null` is Aedes' 0x80 in the SUBACK.
    for (const filter of ["bw/v1/d/+/config", deviceTopics("dev-2").cmd, own.events])
      assert.deepEqual(await ask(authorize, client, filter), [null, null], filter);
    assert.deepEqual(await ask(authorize, new FakeClient("stranger"), own.config), [null, null]);
    assert.equal(lines.filter((l) => l.msg === "mqtt subscribe refused").length, 4);
  });

  it("closes the connection on a filter of ill-formed UTF-8 [MQTT-1.5.3-1]", async () => {
    const { authorize, client } = setup();
    const [error] = await ask(authorize, client, `${deviceTopics("dev-1").config}\uFFFD`);
    assert.ok(error instanceof MqttRefusal && error.reason === "malformed-utf8");
  });

  it("tells fleet of each own topic subscribed, with the session's status", () => {
    const { subscribed: onSubscribe, client, calls } = setup();
    const own = deviceTopics("dev-1");
    onSubscribe(
      [own.config, own.cmd, deviceTopics("dev-2").config].map((topic) => ({ topic, qos: 1 as const })),
      client.aedes,
    );
    onSubscribe([{ topic: own.config, qos: 1 }], new FakeClient("stranger").aedes);
    assert.deepEqual(calls, [
      ["subscribed", "dev-1", "config", "quarantined"],
      ["subscribed", "dev-1", "cmd", "quarantined"],
    ]);
  });
});
