import assert from "node:assert/strict";
import { once } from "node:events";
import { after, describe, it } from "node:test";
import { capturingLog, countingReads, FakeClient, registry } from "../../../test/mqtt-handler-fixtures.ts";
import type { DeviceStatus } from "../../fleet/devices.ts";
import { RegistryChanges } from "../registry-record.ts";
import { SessionRegistry } from "../sessions.ts";
import { clientReady } from "./client-ready.ts";

describe("clientReady handler: presence, the transport's close, the re-check after CONNECT", async () => {
  const { store, device } = await registry();
  after(() => store.close());
  const setup = () => {
    const { log, lines } = capturingLog();
    const db = countingReads(store);
    const sessions = new SessionRegistry();
    const changes = new RegistryChanges();
    const presence: [string, boolean][] = [];
    const ready = clientReady({ db, log, sessions, changes, presence: { set: (...c) => presence.push(c) } });
    const connect = (deviceId: string, serial: string, status: DeviceStatus = "active") => {
      const client = new FakeClient(deviceId);
      sessions.authenticate(client.aedes, { deviceId, serial }, status, changes.count);
      return client;
    };
    return { ready, connect, sessions, changes, presence, lines, db };
  };
  // Waits for what the re-check does once its read comes back (no fixed sleep).
  const until = async (done: () => boolean) => {
    while (!done()) await new Promise((resolve) => setImmediate(resolve));
  };

  it("marks the device online with its first session and offline with its last; no registry read without a change", async () => {
    const { ready, connect, presence, lines, db, sessions } = setup();
    const a = connect("dev-1", "01");
    const b = connect("dev-1", "01");
    ready(a.aedes);
    ready(b.aedes);
    assert.deepEqual(presence, [["dev-1", true]]);
    assert.equal(sessions.deviceCount, 1);
    assert.equal(db.reads, 0);
    a.close();
    await once(a.conn, "close");
    b.close();
    await once(b.conn, "close");
    assert.deepEqual(presence, [
      ["dev-1", true],
      ["dev-1", false],
    ]);
    assert.equal(lines.filter((l) => l.msg === "device disconnected").length, 2);
    assert.ok(lines.some((l) => l.msg === "device connected" && l.remoteAddress === "192.0.2.7"));
  });

  it("a connection closed while CONNECT was checked never becomes a live session", () => {
    const { ready, connect, presence, sessions } = setup();
    const closed = connect("dev-1", "01");
    closed.close();
    ready(closed.aedes);
    const live = connect("dev-2", "02");
    ready(live.aedes);
    assert.deepEqual([presence, sessions.deviceCount], [[["dev-2", true]], 1]);
  });

  it("after a registry change since the CONNECT's read: closes a revoked certificate's session, follows a new status", async () => {
    const revoked = await device("active", { status: "revoked" });
    const restricted = await device("quarantined");
    const { ready, connect, changes, db, sessions } = setup();
    const a = connect(revoked.deviceId, revoked.serial);
    const b = connect(restricted.deviceId, restricted.serial, "active");
    changes.changed();
    ready(a.aedes);
    ready(b.aedes);
    await until(() => a.closed && sessions.get(b.aedes)?.status !== "active");
    assert.equal(db.reads, 2);
    assert.deepEqual([b.closed, sessions.get(b.aedes)?.status], [false, "quarantined"]);
  });
});
