import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { chmodSync, cpSync, existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { tempDir } from "../../../test/helpers.ts";
import type { AppliedConfig } from "./device-config.ts";
import { APPLIED_CONFIG, loadDeviceKey, openAgentStore } from "./device-store.ts";
import { createLog } from "./log.ts";
import { legacyPaths, migrateLegacyState, openMigratedStore, queueIdOf } from "./migrate.ts";
import { peekEvents } from "./security-events.ts";

const FIXTURE = new URL("../fixtures/state-v0.1.0", import.meta.url).pathname;
const silent = createLog("error", () => {});

/** A copy of the state directory the 0.1.0 agent wrote (see fixtures/README.md). */
function legacyDir(): string {
  const dir = join(tempDir("bulwark-migrate-"), "state");
  cpSync(FIXTURE, dir, { recursive: true });
  chmodSync(dir, 0o700);
  return dir;
}
const spoolNames = () => readdirSync(join(FIXTURE, "spool")).sort();
const cert = (dir: string) => new X509Certificate(readFileSync(join(dir, "device.cert.pem")));

describe("agent: migrating a 0.1.0 state directory into the encrypted store", () => {
  it("moves the device key, the sealed configuration and the spool; the old files go", () => {
    const dir = legacyDir();
    const hexKey = readFileSync(join(dir, "data.key"), "utf8").trim();
    const store = openAgentStore(dir);
    assert.deepEqual(migrateLegacyState(dir, store, silent), { migrated: true, events: 2, unreadable: 0 });

    assert.ok(cert(dir).checkPrivateKey(loadDeviceKey(store)), "the key still matches the certificate");
    const config = store.getJson<AppliedConfig>("state", APPLIED_CONFIG);
    assert.equal(config?.policy, "baseline");
    assert.equal(config?.settings.telemetryIntervalSeconds, 600);
    const queued = peekEvents(store);
    assert.deepEqual(
      queued.map((q) => q.event.detail),
      ["3 failed ssh logins", "update signature bad"],
    );
    assert.deepEqual(
      queued.map((q) => q.id),
      spoolNames().map(queueIdOf),
      "spool file names became the queue ids",
    );
    const paths = legacyPaths(dir);
    for (const gone of [paths.key, paths.config, paths.spool]) assert.equal(existsSync(gone), false, gone);
    assert.equal(readFileSync(join(dir, "data.key")).toString("hex"), hexKey, "the same key, now as bytes");
    assert.deepEqual(
      migrateLegacyState(dir, openAgentStore(dir), silent),
      { migrated: false, events: 0, unreadable: 0 },
      "a migrated directory is left as it is",
    );
  });

  it("a crash after the records were written: the next start writes the same records, no event twice", () => {
    const dir = legacyDir();
    openMigratedStore(dir, silent);
    // The old files come back as if the crash struck before they were deleted.
    for (const name of ["device.key.pem", "config.sealed", "spool"])
      cpSync(join(FIXTURE, name), join(dir, name), { recursive: true });
    const store = openMigratedStore(dir, silent);
    assert.equal(peekEvents(store).length, 2);
    assert.ok(cert(dir).checkPrivateKey(loadDeviceKey(store)));
    assert.equal(existsSync(join(dir, "spool")), false);
  });

  it("a crash before every record is written deletes no old file; the next start completes", () => {
    const dir = legacyDir();
    let renames = 0;
    const store = openAgentStore(dir, {
      onWriteStep: (step) => {
        if (step === "rename" && ++renames === 3) throw new Error("crash before the third record");
      },
    });
    assert.throws(() => migrateLegacyState(dir, store, silent), /crash before the third record/);
    const paths = legacyPaths(dir);
    for (const kept of [paths.key, paths.config]) assert.ok(existsSync(kept), kept);
    assert.deepEqual(readdirSync(paths.spool).sort(), spoolNames());

    const again = openMigratedStore(dir, silent);
    assert.equal(peekEvents(again).length, 2);
    assert.equal(existsSync(paths.key), false);
  });

  it("a damaged spool file is dropped and counted; the rest moves", () => {
    const dir = legacyDir();
    const [first] = spoolNames();
    rmSync(join(dir, "spool", first!));
    cpSync(join(FIXTURE, "config.sealed"), join(dir, "spool", first!));
    const result = migrateLegacyState(dir, openAgentStore(dir), silent);
    assert.deepEqual(result, { migrated: true, events: 1, unreadable: 1 });
  });
});
