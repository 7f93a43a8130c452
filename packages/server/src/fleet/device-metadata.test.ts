import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import { pino } from "pino";
import { migrate } from "../store/migrate.ts";
import { migrations } from "../store/migrations.ts";
import { SqliteStore } from "../store/sqlite.ts";
import { handleDeviceMetadata } from "./device-metadata.ts";
import { insertDevice } from "./devices.ts";

it("device metadata is stored allow-listed with its dropped fields counted; too large or not JSON is dropped", async () => {
  const store = new SqliteStore(join(mkdtempSync(join(tmpdir(), "bulwark-meta-")), "t.db"));
  after(() => store.close());
  await migrate(store, migrations);
  const [groupId, deviceId] = [randomUUID(), randomUUID()];
  await store.run(
    `INSERT INTO device_groups (id, name, provisioning_policy, created_at) VALUES (?, 'g', '{}', 0)`,
    [groupId],
  );
  await insertDevice(store, { id: deviceId, groupId, enrolledVia: "test" });
  const lines: { msg: string }[] = [];
  const log = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const read = () =>
    store.get<{ metadata: string; dropped_fields: number }>(
      `SELECT metadata, dropped_fields FROM devices WHERE id = ?`,
      [deviceId],
    );
  await handleDeviceMetadata(
    { store, log },
    deviceId,
    Buffer.from(JSON.stringify({ model: "m1", owner: "x" })),
  );
  assert.deepEqual({ ...(await read()) }, { metadata: JSON.stringify({ model: "m1" }), dropped_fields: 1 });
  await handleDeviceMetadata({ store, log }, deviceId, Buffer.from("{not json"));
  await handleDeviceMetadata({ store, log }, deviceId, Buffer.alloc(16 * 1024 + 1, 0x20));
  assert.deepEqual({ ...(await read()) }, { metadata: JSON.stringify({ model: "m1" }), dropped_fields: 1 });
  assert.deepEqual(
    lines.map((l) => l.msg),
    ["metadata fields dropped", "metadata is not JSON, dropped", "metadata too large, dropped"],
  );
});
