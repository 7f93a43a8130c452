import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pino } from "pino";
import { storeBackends } from "../../test/store-fixtures.ts";
import { insertDevice, setPresences } from "../fleet/devices.ts";
import { migrate } from "../store/migrate.ts";
import { migrations } from "../store/migrations.ts";
import { BATCH } from "../store/placeholders.ts";
import { SqliteStore } from "../store/sqlite.ts";
import { InstanceLiveness } from "./instance-liveness.ts";
import { PresenceWriter } from "./presence.ts";

/** A fresh migrated SQLite store with one group holding these devices. */
async function storeWithDevices(ids: string[]): Promise<SqliteStore> {
  const store = new SqliteStore(join(mkdtempSync(join(tmpdir(), "bulwark-presence-")), "t.db"));
  await migrate(store, migrations);
  const groupId = randomUUID();
  await store.run(
    `INSERT INTO device_groups (id, name, provisioning_policy, created_at) VALUES (?, ?, '{}', ?)`,
    [groupId, `g-${groupId}`, Date.now()],
  );
  for (const id of ids) await insertDevice(store, { id, groupId, enrolledVia: "test" });
  return store;
}

describe("presence writer: coalesced per device, one transaction per flush", () => {
  let store: SqliteStore;
  const ids = [randomUUID(), randomUUID(), randomUUID()];
  const online = async (id: string) =>
    (await store.get<{ online: number; last_seen_at: number | null }>(
      `SELECT online, last_seen_at FROM devices WHERE id = ?`,
      [id],
    ))!;

  before(async () => {
    store = await storeWithDevices(ids);
  });
  after(() => store.close());

  it("writes nothing until the flush, then the last change of each device", async () => {
    const writer = new PresenceWriter(store, pino({ level: "silent" }), "instance-a", 60_000);
    writer.set(ids[0]!, true);
    writer.set(ids[1]!, true);
    writer.set(ids[1]!, false);
    writer.set(ids[2]!, true);
    assert.equal((await online(ids[0]!)).online, 0, "not written before the flush");
    await writer.flush();
    assert.equal((await online(ids[0]!)).online, 1);
    assert.equal((await online(ids[1]!)).online, 0, "online then offline in one interval: offline");
    assert.notEqual((await online(ids[1]!)).last_seen_at, null);
    assert.equal((await online(ids[2]!)).online, 1);
  });

  it("flushes by itself after its interval, and later changes win over earlier flushes", async () => {
    const writer = new PresenceWriter(store, pino({ level: "silent" }), "instance-a", 20);
    writer.set(ids[0]!, false);
    const first = writer.flush();
    writer.set(ids[0]!, true);
    await first;
    for (let i = 0; i < 100 && (await online(ids[0]!)).online !== 1; i++)
      await new Promise((r) => setTimeout(r, 20));
    assert.equal((await online(ids[0]!)).online, 1);
  });

  it("close writes what is pending and ignores later changes", async () => {
    const writer = new PresenceWriter(store, pino({ level: "silent" }), "instance-a", 60_000);
    writer.set(ids[2]!, false);
    await writer.close();
    assert.equal((await online(ids[2]!)).online, 0);
    writer.set(ids[2]!, true);
    await writer.flush();
    assert.equal((await online(ids[2]!)).online, 0, "a change after close is not written");
  });
});

describe("presence across server processes: owner, heartbeat and sweep (scale-out)", () => {
  let store: SqliteStore;
  const [onA, onB, orphan, movedToB] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  const quiet = pino({ level: "silent" });
  const row = async (id: string) =>
    (await store.get<{ online: number; connected_to: string | null }>(
      `SELECT online, connected_to FROM devices WHERE id = ?`,
      [id],
    ))!;
  const liveness = (id: string, live: string[] = []) => {
    const presence = new PresenceWriter(store, quiet, id, 60_000);
    const reasserted: string[] = [];
    const instance = new InstanceLiveness({
      id,
      store,
      log: quiet,
      heartbeatMs: 1000,
      liveDevices: () => live,
      reassert: async (ids) => {
        for (const d of ids) {
          reasserted.push(d);
          presence.set(d, true);
        }
        await presence.flush();
      },
    });
    return { presence, instance, reasserted };
  };

  before(async () => {
    store = await storeWithDevices([onA, onB, orphan, movedToB]);
  });
  after(() => store.close());

  it("a late close on the old process does not overwrite the session the device opened on another", async () => {
    const a = new PresenceWriter(store, quiet, "A", 60_000);
    const b = new PresenceWriter(store, quiet, "B", 60_000);
    a.set(movedToB, true);
    await a.flush();
    b.set(movedToB, true);
    await b.flush();
    a.set(movedToB, false); // A learns of the old session's close after B took the device over
    await a.flush();
    assert.deepEqual({ ...(await row(movedToB)) }, { online: 1, connected_to: "B" });
  });

  it("the devices of a process that stopped beating, and of none, are shown offline; a live one's are kept", async () => {
    const t0 = Date.now();
    const a = liveness("A", [onA]);
    const b = liveness("B", [onB]);
    await a.instance.start();
    await b.instance.start();
    a.presence.set(onA, true);
    await a.presence.flush();
    b.presence.set(onB, true);
    await b.presence.flush();
    // A device online with no holder (written before this migration) is an orphan.
    await store.run(`UPDATE devices SET online = 1, connected_to = NULL WHERE id = ?`, [orphan]);

    // B is killed: it never beats again. A beats on; 3 beats later B is dead.
    await a.instance.beat(t0 + 1000);
    assert.equal((await row(onB)).online, 1, "not yet: B missed fewer than 3 beats");
    assert.equal((await row(orphan)).online, 1, "orphans are looked for at start and now and then");
    await a.instance.sweep(t0 + 1000, true);
    assert.equal((await row(orphan)).online, 0, "an orphan is swept by the orphan sweep");
    await a.instance.beat(t0 + 3500);
    assert.deepEqual({ ...(await row(onB)) }, { online: 0, connected_to: null });
    assert.deepEqual({ ...(await row(onA)) }, { online: 1, connected_to: "A" });
    assert.equal(
      (await store.get<{ n: number }>(`SELECT COUNT(*) AS n FROM server_instances WHERE id = 'B'`))!.n,
      0,
      "the dead process is forgotten",
    );

    // B was only stalled: at its next beat it finds itself swept and shows its sessions again.
    await b.instance.beat(t0 + 3600);
    assert.deepEqual(b.reasserted, [onB]);
    assert.deepEqual({ ...(await row(onB)) }, { online: 1, connected_to: "B" });

    // A graceful stop takes A's devices offline and removes A, and leaves B's alone.
    await a.instance.stop();
    assert.equal((await row(onA)).online, 0);
    assert.equal((await row(onB)).online, 1);
    await b.instance.stop();
    assert.equal((await row(onB)).online, 0);
  });
});

for (const backend of storeBackends)
  it(`setPresences on ${backend.name}: one statement a chunk, exact times, and the holder rule`, async (ctx) => {
    const t = await backend.open(ctx);
    if (!t) return;
    try {
      const groupId = randomUUID();
      await t.store.run(
        `INSERT INTO device_groups (id, name, provisioning_policy, created_at) VALUES (?, ?, '{}', ?)`,
        [groupId, `g-${groupId}`, Date.now()],
      );
      // More devices than one chunk of the VALUES list holds.
      const ids = Array.from({ length: BATCH + 50 }, () => randomUUID());
      await t.store.transaction(async (tx) => {
        for (const id of ids) await insertDevice(tx, { id, groupId, enrolledVia: "test" });
      });
      const at = (i: number) => 1_700_000_000_000 + i;
      const read = async (id: string) => {
        const r = (await t.store.get<{ online: number; connected_to: string | null; last_seen_at: number }>(
          `SELECT online, connected_to, last_seen_at FROM devices WHERE id = ?`,
          [id],
        ))!;
        return { online: Number(r.online), connectedTo: r.connected_to, lastSeen: Number(r.last_seen_at) };
      };

      await t.store.transaction((tx) =>
        setPresences(
          tx,
          ids.map((deviceId, i) => ({ deviceId, online: true, at: at(i) })),
          "A",
        ),
      );
      for (const i of [0, BATCH - 1, BATCH, ids.length - 1])
        assert.deepEqual(await read(ids[i]!), { online: 1, connectedTo: "A", lastSeen: at(i) });

      // B closing a session it does not hold changes nothing; A closing its own clears it.
      await t.store.transaction((tx) =>
        setPresences(
          tx,
          [
            { deviceId: ids[0]!, online: false, at: at(9_000) },
            { deviceId: ids[1]!, online: false, at: at(9_001) },
          ],
          "B",
        ),
      );
      assert.deepEqual(await read(ids[0]!), { online: 1, connectedTo: "A", lastSeen: at(0) });
      await t.store.transaction((tx) =>
        setPresences(
          tx,
          [
            { deviceId: ids[0]!, online: false, at: at(9_002) },
            { deviceId: ids[2]!, online: true, at: at(9_003) },
          ],
          "A",
        ),
      );
      assert.deepEqual(await read(ids[0]!), { online: 0, connectedTo: null, lastSeen: at(9_002) });
      assert.deepEqual(await read(ids[1]!), { online: 1, connectedTo: "A", lastSeen: at(1) });
      assert.deepEqual(await read(ids[2]!), { online: 1, connectedTo: "A", lastSeen: at(9_003) });
    } finally {
      await t.close();
    }
  });
