import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { MqttClient } from "mqtt";
import { enrolDirect } from "../../../../test/enrol-helpers.ts";
import { createToken, startTestServer, type TestServer } from "../../../../test/helpers.ts";
import { connectDevice } from "../../../../test/mqtt-helpers.ts";
import type { SqlValue } from "../store/store.ts";

/**
 * An action that commits while a CONNECT is being checked finds no live session to act on (the
 * session is live only from `clientReady`). The broker reads the registry again at `clientReady`;
 * here the action is made to commit right after the CONNECT check read the registry, every time.
 */
/** Resolves when the connection closes; fails instead of hanging when it stays open. */
const closed = (client: MqttClient) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the session stayed open")), 20_000);
    client.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
  });

describe("an action committed between the CONNECT check and the live session", () => {
  let server: TestServer;
  let onCheck: ((serial: string) => Promise<void>) | undefined;
  let registryReads = 0;
  before(async () => {
    server = await startTestServer();
    const get = server.store.get.bind(server.store);
    // The CONNECT check's registry read (connect-steps.ts `registryRecord`): run the action once it has read.
    server.store.get = (async (sql: string, params?: readonly SqlValue[]) => {
      const row = await get(sql, params);
      const action = onCheck;
      const registryRead = sql.includes("LEFT JOIN devices d ON d.id = c.device_id");
      if (registryRead) registryReads++;
      if (action && registryRead) {
        onCheck = undefined;
        await action(String(params?.[0]));
      }
      return row;
    }) as typeof server.store.get;
  });
  after(async () => {
    await server.close();
  });

  it("a certificate revoked then: the session is closed at once", async () => {
    const device = await enrolDirect(server, await createToken(server));
    const serial = new X509Certificate(device.certPem).serialNumber.toLowerCase();
    onCheck = async (checked) => {
      assert.equal(checked, serial);
      const res = await server.api("POST", `/api/v1/certificates/${serial}/revoke`, {
        reason: "keyCompromise",
      });
      assert.ok(res.status < 300, JSON.stringify(res.body));
    };
    const client = await connectDevice(server, device);
    assert.equal(onCheck, undefined, "the revocation ran during the CONNECT check");
    await closed(client);
    client.end(true);
    await assert.rejects(connectDevice(server, device));
  });

  it("with no action in between, the CONNECT check's read is the only one", async () => {
    const device = await enrolDirect(server, await createToken(server));
    registryReads = 0;
    const client = await connectDevice(server, device);
    // The session is live (CONNACK) and `clientReady` has run: a re-check would have read by now.
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(registryReads, 1);
    assert.equal(client.connected, true);
    client.end(true);
  });

  it("a device disabled then: the session is closed at once", async () => {
    const device = await enrolDirect(server, await createToken(server));
    onCheck = async () => {
      const res = await server.api("POST", `/api/v1/devices/${device.deviceId}/disable`, { reason: "test" });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    };
    const client = await connectDevice(server, device);
    assert.equal(onCheck, undefined, "the disable ran during the CONNECT check");
    await closed(client);
    client.end(true);
  });
});
