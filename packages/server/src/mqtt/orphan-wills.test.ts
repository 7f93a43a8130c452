import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import { pino } from "pino";
import { insertDevice } from "../fleet/devices.ts";
import { migrate } from "../store/migrate.ts";
import { migrations } from "../store/migrations.ts";
import { SqliteStore } from "../store/sqlite.ts";
import { InstanceLiveness } from "./instance-liveness.ts";
import { isOrphanWill, OrphanWills, type StoredWill } from "./orphan-wills.ts";

it("the will of a stopped process's session is published as its device under its ACL, or refused (and dropped unless its process lives)", async (t) => {
  const store = new SqliteStore(join(mkdtempSync(join(tmpdir(), "bulwark-wills-")), "t.db"));
  await migrate(store, migrations);
  const groupId = randomUUID();
  await store.run(
    `INSERT INTO device_groups (id, name, provisioning_policy, created_at) VALUES (?, ?, '{}', ?)`,
    [groupId, "g", Date.now()],
  );
  const [active, disabled, other] = [randomUUID(), randomUUID(), randomUUID()];
  for (const id of [active, disabled, other]) await insertDevice(store, { id, groupId, enrolledVia: "test" });
  await store.run(`UPDATE devices SET status = 'disabled' WHERE id = ?`, [disabled]);
  const log = pino({ level: "silent" });
  // This process and a live other one beat in server_instances; "gone" never did (or stopped).
  const self = new InstanceLiveness({
    id: "self",
    store,
    log,
    liveDevices: () => [],
    reassert: async () => {},
  });
  const live = new InstanceLiveness({
    id: "live",
    store,
    log,
    liveDevices: () => [],
    reassert: async () => {},
  });
  await self.start();
  await live.start();
  t.after(async () => {
    await self.stop();
    await live.stop();
    await store.close();
  });
  const dropped: StoredWill[] = [];
  const wills = new OrphanWills({
    store,
    log,
    holderAlive: (brokerId) => self.isAlive(brokerId),
    drop: async (will) => dropped.push(will),
  });
  const will = (clientId: string, topic: string, brokerId = "gone"): StoredWill => ({
    topic,
    payload: Buffer.from("{}"),
    qos: 0,
    retain: false,
    clientId,
    brokerId,
  });
  const decide = (w: StoredWill) =>
    new Promise<string>((resolve) =>
      wills.authorize(w, (error) => resolve(error ? error.message : "published")),
    );

  // Which packets take this path: a stored will of another broker, never a device's PUBLISH.
  assert.equal(isOrphanWill(will(active, "t"), "self"), true);
  assert.equal(isOrphanWill(will(active, "t", "self"), "self"), false, "this process's own session's will");
  assert.equal(isOrphanWill({ topic: "t", payload: Buffer.alloc(0), qos: 0, retain: false }, "self"), false);

  const own = will(active, `bw/v1/d/${active}/events`);
  assert.equal(await decide(own), "published");
  assert.equal(wills.deviceOf(own), active, "routed as the device's own report once published");
  assert.equal(await decide(will(active, `bw/v1/d/${other}/cmd`)), "will refused: foreign-topic");
  assert.equal(
    await decide(will(disabled, `bw/v1/d/${disabled}/events`)),
    "will refused: not-in-this-status",
  );
  assert.equal(await decide(will(randomUUID(), "bw/v1/d/x/events")), "will refused: unknown-device");
  assert.equal(
    await decide({ ...will(active, "t"), topic: 42 } as unknown as StoredWill),
    "will refused: malformed-will",
  );
  assert.equal(dropped.length, 4, "each refused will is deleted, so no sweep offers it again");
  // Aedes may take a live process for dead (its heartbeats missed while Redis was away): the
  // process's PostgreSQL heartbeat decides, and its session's will is kept for it.
  assert.equal(await decide(will(active, `bw/v1/d/${active}/events`, "live")), "will refused: holder-alive");
  assert.equal(dropped.length, 4);
  assert.equal(wills.deviceOf(own), active);
});
