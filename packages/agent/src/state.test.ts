import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { StoreTamperEvent } from "@bulwark/sdk/store";
import { tempDir } from "../../../test/helpers.ts";
import { openAgentStore } from "./device-store.ts";
import { effectiveLogging, peekEvents, setLocalLogging, spoolEvent } from "./security-events.ts";
import { ensureStateDir, readState, statePaths, writeAtomic } from "./state.ts";
import { destroyDataKey, ensureDataKey, openJson, readDataKey, sealJson } from "./vault.ts";

describe("agent state on disk", () => {
  it("an unenrolled directory says how to enrol; writes are atomic with their mode", () => {
    const dir = join(tempDir("bulwark-state-"), "state");
    assert.throws(
      () => readState(dir),
      /not enrolled: no .*agent\.json \(run "bulwark-agent enroll" first\)/,
    );
    ensureStateDir(dir);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    writeAtomic(join(dir, "secret"), "one", 0o600);
    writeAtomic(join(dir, "secret"), "two", 0o600);
    assert.equal(readFileSync(join(dir, "secret"), "utf8"), "two");
    assert.equal(statSync(join(dir, "secret")).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir), ["secret"], "no temporary file left");
    writeFileSync(statePaths(dir).state, JSON.stringify({ deviceId: "d" }));
    assert.equal(readState(dir).deviceId, "d");
  });

  it("sealed files open only with their data key and purpose; a destroyed key is gone", () => {
    const dir = tempDir("bulwark-vault-");
    const key = ensureDataKey(dir);
    assert.deepEqual(ensureDataKey(dir), key, "the key is made once");
    const sealed = sealJson({ a: 1 }, key, "purpose-a");
    assert.deepEqual(openJson(sealed, key, "purpose-a"), { a: 1 });
    assert.throws(() => openJson(sealed, key, "purpose-b"), /unable to authenticate data/);
    const flipped = Buffer.from(sealed);
    flipped[flipped.length - 1]! ^= 1;
    assert.throws(() => openJson(flipped, key, "purpose-a"), /unable to authenticate data/);
    destroyDataKey(dir);
    assert.throws(() => readDataKey(dir), /ENOENT/);
  });

  it("the queue gives events oldest first, drops a damaged one (reported), and logging is off if the user or the policy says so", () => {
    const dir = tempDir("bulwark-spool-");
    const tampered: StoreTamperEvent[] = [];
    const store = openAgentStore(dir, { onSecurityEvent: (e) => tampered.push(e) });
    spoolEvent(store, "login-failed", "first");
    spoolEvent(store, "config-changed", "second");
    writeFileSync(join(dir, "store", "queue", "000000000000000-damaged.rec"), "not sealed");
    const events = peekEvents(store);
    assert.deepEqual(
      events.map((e) => e.event.detail),
      ["first", "second"],
    );
    assert.deepEqual(
      tampered.map((e) => e.reason),
      ["malformed"],
    );
    assert.equal(store.list("queue").length, 2, "the damaged entry is gone, the others wait for their ack");

    assert.deepEqual(effectiveLogging(dir, undefined), {
      type: "event-logging",
      enabled: true,
      source: "device",
    });
    assert.deepEqual(effectiveLogging(dir, false), {
      type: "event-logging",
      enabled: false,
      source: "policy",
    });
    setLocalLogging(dir, false);
    assert.deepEqual(effectiveLogging(dir, true), {
      type: "event-logging",
      enabled: false,
      source: "device",
    });
    setLocalLogging(dir, true);
    assert.equal(effectiveLogging(dir, true).enabled, true);
  });
});
