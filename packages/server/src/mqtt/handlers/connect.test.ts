import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { Client } from "aedes";
import { capturingLog, countingReads, FakeClient, registry } from "../../../test/mqtt-handler-fixtures.ts";
import type { DeviceIdentity, IdentityFailure } from "../identity.ts";
import { DEFAULT_LIMITS } from "../limits.ts";
import { MqttRefusal } from "../refusal.ts";
import { RegistryChanges } from "../registry-record.ts";
import { SessionRegistry } from "../sessions.ts";
import { connectHandlers } from "./connect.ts";

/** Runs one CONNECT through `preConnect` and `authenticate` as Aedes would; resolves with `done`'s arguments. */
async function connect(
  handlers: ReturnType<typeof connectHandlers>,
  client: FakeClient,
  keepalive = 60,
): Promise<[Error | null, boolean | null]> {
  await new Promise<void>((resolve) =>
    handlers.preConnect(client.aedes, { cmd: "connect", keepalive } as never, () => resolve()),
  );
  return new Promise((resolve) =>
    handlers.authenticate(client.aedes, undefined, undefined, (error, ok) => resolve([error, ok])),
  );
}

describe("CONNECT handler: ordered steps, identity from the certificate first", async () => {
  const { store, device } = await registry();
  after(() => store.close());
  const setup = (identities: Map<Client, DeviceIdentity | IdentityFailure>) => {
    const { log, lines } = capturingLog();
    const db = countingReads(store);
    const sessions = new SessionRegistry();
    const changes = new RegistryChanges();
    const identify = (client: Client) => identities.get(client) ?? "no-certificate";
    const handlers = connectHandlers({ db, log, limits: DEFAULT_LIMITS, sessions, changes, identify });
    return { handlers, sessions, changes, db, lines };
  };

  it("admits a valid device with one registry read, under its stored status", async () => {
    const { deviceId, serial } = await device("quarantined");
    const client = new FakeClient(deviceId);
    const { handlers, sessions, changes, db } = setup(new Map([[client.aedes, { deviceId, serial }]]));
    changes.changed();
    changes.changed();
    assert.deepEqual(await connect(handlers, client), [null, true]);
    const session = sessions.get(client.aedes);
    assert.deepEqual(
      { status: session?.status, identity: session?.identity, changesBefore: session?.changesBefore },
      { status: "quarantined", identity: { deviceId, serial }, changesBefore: 2 },
    );
    assert.equal(db.reads, 1);
  });

  it("refuses each failing step with its reason and CONNACK return code (MQTT 3.1.1 §3.2.2.3)", async () => {
    const ok = await device();
    const revoked = await device("active", { status: "revoked" });
    const expired = await device("active", { notAfter: Date.now() - 1 });
    const disabled = await device("disabled");
    const cases: [string, FakeClient, DeviceIdentity | IdentityFailure, number, string, number, string][] = [
      [
        "no certificate",
        new FakeClient(ok.deviceId),
        "no-certificate",
        60,
        "no-certificate",
        5,
        "no-certificate",
      ],
      [
        "client id",
        new FakeClient("other"),
        ok,
        60,
        "client-id-not-device-id",
        2,
        "client id must be the device id",
      ],
      [
        "keepalive 0",
        new FakeClient(ok.deviceId),
        ok,
        0,
        "keepalive-out-of-range",
        5,
        "keepalive must be 5-1200 s",
      ],
      [
        "revoked",
        new FakeClient(revoked.deviceId),
        revoked,
        60,
        "certificate-not-valid",
        5,
        "certificate is not valid",
      ],
      [
        "expired",
        new FakeClient(expired.deviceId),
        expired,
        60,
        "certificate-not-valid",
        5,
        "certificate is not valid",
      ],
      [
        "disabled",
        new FakeClient(disabled.deviceId),
        disabled,
        60,
        "device-may-not-connect",
        5,
        "device is disabled",
      ],
    ];
    for (const [name, client, identity, keepalive, reason, returnCode, message] of cases) {
      const { handlers, sessions, lines } = setup(new Map([[client.aedes, identity]]));
      const [error, ok2] = await connect(handlers, client, keepalive);
      assert.ok(error instanceof MqttRefusal, name);
      assert.deepEqual(
        { reason: error.reason, returnCode: error.returnCode, message: error.message, ok2 },
        {
          reason,
          returnCode,
          message,
          ok2: false,
        },
        name,
      );
      assert.equal(sessions.get(client.aedes), undefined, name);
      const logged = lines.find((line) => line.msg === "mqtt connect refused");
      assert.equal(logged?.reason, message, name);
    }
  });

  it("reads the identity before anything else: no certificate is refused as such, whatever the client id", async () => {
    const client = new FakeClient("not-a-device");
    const { handlers, db } = setup(new Map());
    const [error] = await connect(handlers, client, 0);
    assert.ok(error instanceof MqttRefusal);
    assert.equal(error.reason, "no-certificate");
    assert.equal(db.reads, 0);
  });

  it("refuses with 0x05 when the registry cannot be read, the cause kept", async () => {
    const broken = await registry();
    const { deviceId, serial } = await broken.device();
    await broken.store.close();
    const client = new FakeClient(deviceId);
    const { log } = capturingLog();
    const handlers = connectHandlers({
      db: broken.store,
      log,
      limits: DEFAULT_LIMITS,
      sessions: new SessionRegistry(),
      changes: new RegistryChanges(),
      identify: () => ({ deviceId, serial }),
    });
    const [error] = await connect(handlers, client);
    assert.ok(error instanceof MqttRefusal);
    assert.deepEqual(
      [error.reason, error.returnCode, error.cause instanceof Error],
      ["check-failed", 3, true],
    );
  });
});
