import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { enrolDirect } from "../../../../test/enrol-helpers.ts";
import { createToken, startTestServer, type TestServer, waitFor } from "../../../../test/helpers.ts";
import { closed, connectDevice } from "../../../../test/mqtt-helpers.ts";
import type { SqlValue } from "../store/store.ts";

/**
 * An action that commits while a CONNECT is being checked finds no live session to act on (the
 * session is live only from `clientReady`). The broker reads the registry again at `clientReady`;
 * here the action is made to commit right after the CONNECT check read the registry, every time.
 */
describe("an action committed between the CONNECT check and the live session", () => {
  let server: TestServer;
  let onCheck: ((serial: string) => Promise<void>) | undefined;
  let registryReads = 0;
  before(async () => {
    server = await startTestServer();
    const get = server.store.get.bind(server.store);
    // The CONNECT check's registry read (connect-steps.ts `registryRecord`): run the action once it has read.
    server.store.get = (async (sql: string, params?: readonly SqlValue[]) => {
      const registryRead = sql.includes("LEFT JOIN devices d ON d.id = c.device_id");
      // Counted when issued: `clientReady` issues its re-check synchronously, before the session counts as connected.
      if (registryRead) registryReads++;
      const row = await get(sql, params);
      const action = onCheck;
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
    await closed(client, "the revoked certificate's session");
    client.end(true);
    // MQTT 3.1.1 §3.2.2.3: return code 5.
    await assert.rejects(connectDevice(server, device), /Not authorized/);
  });

  it("with no action in between, the CONNECT check's read is the only one", async () => {
    const device = await enrolDirect(server, await createToken(server));
    // The previous test's session is gone on the server side too, so the count below is this device's.
    await waitFor("no live session", async () => server.broker.connectedDevices() === 0);
    registryReads = 0;
    const client = await connectDevice(server, device);
    // The session counts as connected once `clientReady` has run, which issues any re-check before that.
    await waitFor("the session live", async () => server.broker.connectedDevices() === 1);
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
    await closed(client, "the disabled device's session");
    client.end(true);
  });
});
