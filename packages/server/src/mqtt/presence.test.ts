import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pino } from "pino";
import { insertDevice } from "../fleet/devices.ts";
import { migrate } from "../store/migrate.ts";
import { migrations } from "../store/migrations.ts";
import { SqliteStore } from "../store/sqlite.ts";
import { PresenceWriter } from "./presence.ts";

describe("presence writer: coalesced per device, one transaction per flush", () => {
  let store: SqliteStore;
  const groupId = randomUUID();
  const ids = [randomUUID(), randomUUID(), randomUUID()];
  const online = async (id: string) =>
    (await store.get<{ online: number; last_seen_at: number | null }>(
      `SELECT online, last_seen_at FROM devices WHERE id = ?`,
      [id],
    ))!;

  before(async () => {
    store = new SqliteStore(join(mkdtempSync(join(tmpdir(), "bulwark-presence-")), "t.db"));
    await migrate(store, migrations);
    await store.run(
      `INSERT INTO device_groups (id, name, provisioning_policy, created_at) VALUES (?, ?, '{}', ?)`,
      [groupId, `g-${groupId}`, Date.now()],
    );
    for (const id of ids) await insertDevice(store, { id, groupId, enrolledVia: "test" });
  });
  after(() => store.close());

  it("writes nothing until the flush, then the last change of each device", async () => {
    const writer = new PresenceWriter(store, pino({ level: "silent" }), 60_000);
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
    const writer = new PresenceWriter(store, pino({ level: "silent" }), 20);
    writer.set(ids[0]!, false);
    const first = writer.flush();
    writer.set(ids[0]!, true);
    await first;
    for (let i = 0; i < 100 && (await online(ids[0]!)).online !== 1; i++)
      await new Promise((r) => setTimeout(r, 20));
    assert.equal((await online(ids[0]!)).online, 1);
  });

  it("close writes what is pending and ignores later changes", async () => {
    const writer = new PresenceWriter(store, pino({ level: "silent" }), 60_000);
    writer.set(ids[2]!, false);
    await writer.close();
    assert.equal((await online(ids[2]!)).online, 0);
    writer.set(ids[2]!, true);
    await writer.flush();
    assert.equal((await online(ids[2]!)).online, 0, "a change after close is not written");
  });
});
