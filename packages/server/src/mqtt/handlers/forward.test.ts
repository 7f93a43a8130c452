import assert from "node:assert/strict";
import { it } from "node:test";
import { deviceTopics } from "@bulwark/sdk/wire/topics";
import type { AedesPublishPacket } from "aedes";
import { FakeClient } from "../../../test/mqtt-handler-fixtures.ts";
import { SessionRegistry } from "../sessions.ts";
import { authorizeForward } from "./forward.ts";

it("delivers to a session only its own device's topics that its current status admits", () => {
  const sessions = new SessionRegistry();
  const forward = authorizeForward(sessions);
  const client = new FakeClient("dev-1");
  sessions.authenticate(client.aedes, { deviceId: "dev-1", serial: "01" }, "active", 0);
  sessions.ready(client.aedes);
  const packet = (topic: string) => ({ topic }) as AedesPublishPacket;
  const own = deviceTopics("dev-1");
  const delivered = (topic: string, to = client) => forward(to.aedes, packet(topic)) !== null;

  assert.deepEqual(
    [delivered(own.config), delivered(own.jobsNotify), delivered(deviceTopics("dev-2").config)],
    [true, true, false],
  );
  // Quarantine receives remediation only: config and cmd, not update notifications.
  sessions.setStatus("dev-1", "quarantined");
  assert.deepEqual(
    [delivered(own.config), delivered(own.cmd), delivered(own.jobsNotify)],
    [true, true, false],
  );
  assert.equal(delivered(own.config, new FakeClient("dev-1")), false);
});
