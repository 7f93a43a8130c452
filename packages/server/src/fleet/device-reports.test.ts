import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { pino } from "pino";
import { storeBackends } from "../../test/store-fixtures.ts";
import { handleDeviceReport } from "./device-reports.ts";
import { insertDevice } from "./devices.ts";

/**
 * Issue #15 follow-up: QoS 1 is at-least-once (MQTT 3.1.1 / 5 §4.3.2). A server that stored a
 * device's security event and died before its PUBACK gets the same event again after the device
 * reconnects: an event with an id is stored once per device; events without one (older agents)
 * are all stored.
 */
describe("security events re-sent after a lost PUBACK", () => {
  for (const backend of storeBackends)
    it(`are stored once per device and id (${backend.name})`, async (t) => {
      const fixture = await backend.open(t);
      if (!fixture) return;
      const { store } = fixture;
      t.after(() => fixture.close());
      const log = pino({ level: "silent" });
      const groupId = randomUUID();
      await store.run(
        `INSERT INTO device_groups (id, name, provisioning_policy, created_at) VALUES (?, 'g', '{}', 0)`,
        [groupId],
      );
      const [a, b] = [randomUUID(), randomUUID()];
      for (const id of [a, b]) await insertDevice(store, { id, groupId, enrolledVia: "test" });
      const event = (id?: string) =>
        Buffer.from(
          JSON.stringify({
            type: "security-event",
            kind: "login-failed",
            at: "2026-12-06T10:00:00.000Z",
            ...(id ? { id } : {}),
          }),
        );
      const count = async (deviceId: string) =>
        Number(
          (await store.get<{ n: number | string }>(
            `SELECT COUNT(*) AS n FROM device_security_events WHERE device_id = ?`,
            [deviceId],
          ))!.n,
        );
      const handle = (deviceId: string, payload: Buffer) =>
        handleDeviceReport({ store, log }, deviceId, payload);

      assert.equal(await handle(a, event("000001-00000001-ab")), "stored");
      // The re-send: handled without error (so acknowledged), not stored again.
      assert.equal(await handle(a, event("000001-00000001-ab")), "ignored");
      assert.equal(await count(a), 1);
      // The same id on another device is another event; another id on the same device too.
      assert.equal(await handle(b, event("000001-00000001-ab")), "stored");
      assert.equal(await handle(a, event("000001-00000002-cd")), "stored");
      // An older agent's events carry no id: each is stored.
      assert.equal(await handle(a, event()), "stored");
      assert.equal(await handle(a, event()), "stored");
      assert.deepEqual([await count(a), await count(b)], [4, 1]);
      // An id that is not one is refused at the edge (counted as dropped), nothing stored.
      assert.equal(await handle(a, event("bad id!")), "dropped");
      assert.equal(await count(a), 4);
    });
});
