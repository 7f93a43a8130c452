import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import type { Client } from "aedes";
import { type Logger, pino } from "pino";
import type { BrokerHooks } from "../src/fleet/broker-hooks.ts";
import { type DeviceStatus, insertDevice } from "../src/fleet/devices.ts";
import { migrate } from "../src/store/migrate.ts";
import { migrations } from "../src/store/migrations.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import type { Queryable, SqlValue } from "../src/store/store.ts";

/**
 * Test fixtures for the broker's handlers, each run without a server: an Aedes client as the
 * handlers see it (an id, a transport that closes, `close()`), a real SQLite registry, a log that
 * keeps its lines, and fleet hooks that record their calls.
 */
export class FakeClient extends EventEmitter {
  closed = false;
  readonly conn = Object.assign(new PassThrough(), { remoteAddress: "192.0.2.7" });
  readonly id: string;
  constructor(id: string) {
    super();
    this.id = id;
  }
  close(): void {
    this.closed = true;
    this.conn.destroy();
  }
  /** As the handlers' Aedes type. */
  get aedes(): Client {
    return this as unknown as Client;
  }
}

export function capturingLog(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: "debug" }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { log, lines };
}

/** A migrated SQLite registry with one device group; `device()` adds a device and its certificate. */
export async function registry(): Promise<{
  store: SqliteStore;
  device(
    status?: DeviceStatus,
    cert?: { status?: string; notAfter?: number },
  ): Promise<{ deviceId: string; serial: string }>;
}> {
  const store = new SqliteStore(join(mkdtempSync(join(tmpdir(), "bulwark-handlers-")), "t.db"));
  await migrate(store, migrations);
  const groupId = randomUUID();
  const now = Date.now();
  await store.run(
    `INSERT INTO device_groups (id, name, provisioning_policy, created_at) VALUES (?, 'g', '{}', ?)`,
    [groupId, now],
  );
  await store.run(
    `INSERT INTO cas (id, name, role, algorithm, key_id, cert_pem, fingerprint, status, created_at)
     VALUES ('ca', 'device CA', 'device', 'ecdsa-p256', 'k', '', 'f', 'active', ?)`,
    [now],
  );
  return {
    store,
    async device(status = "active", cert = {}) {
      const deviceId = randomUUID();
      const serial = randomUUID().replaceAll("-", "");
      await insertDevice(store, { id: deviceId, groupId, enrolledVia: "test" });
      await store.run(`UPDATE devices SET status = ? WHERE id = ?`, [status, deviceId]);
      await store.run(
        `INSERT INTO certificates (serial, ca_id, device_id, subject, fingerprint, not_before, not_after, der, status, created_at)
         VALUES (?, 'ca', ?, 'CN=d', 'f', ?, ?, ?, ?, ?)`,
        [
          serial,
          deviceId,
          now,
          cert.notAfter ?? now + 86_400_000,
          Buffer.alloc(1),
          cert.status ?? "valid",
          now,
        ],
      );
      return { deviceId, serial };
    },
  };
}

/** A `Queryable` that counts the reads it passes on to the real store. */
export function countingReads(db: Queryable): Queryable & { reads: number } {
  const counting = {
    reads: 0,
    get: <T>(sql: string, params?: readonly SqlValue[]) => {
      counting.reads++;
      return db.get<T>(sql, params);
    },
    all: <T>(sql: string, params?: readonly SqlValue[]) => {
      counting.reads++;
      return db.all<T>(sql, params);
    },
    run: (sql: string, params?: readonly SqlValue[]) => db.run(sql, params),
  };
  return counting as Queryable & { reads: number };
}

export type HookCall = [keyof BrokerHooks, ...unknown[]];

/** Fleet hooks that record each call; `fail` makes them reject. */
export function recordingHooks(fail?: Error): { hooks: BrokerHooks; calls: HookCall[] } {
  const calls: HookCall[] = [];
  const record = async (call: HookCall) => {
    calls.push(call);
    if (fail) throw fail;
  };
  return {
    calls,
    hooks: {
      subscribed: (deviceId, kind, status) => record(["subscribed", deviceId, kind, status]),
      metadata: (deviceId, payload) => record(["metadata", deviceId, payload.toString()]),
      report: (deviceId, payload) => record(["report", deviceId, payload.toString()]),
      jobStatus: (deviceId, jobId, report) => record(["jobStatus", deviceId, jobId, JSON.stringify(report)]),
    },
  };
}
