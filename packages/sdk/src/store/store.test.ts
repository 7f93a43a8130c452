import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { parseDeviceReport } from "../wire/reports.ts";
import { destroyFileKek, fileKek, memoryKek } from "./kek.ts";
import { openStore } from "./store.ts";
import { StoreTamperError, type StoreTamperEvent, toSecurityReport } from "./tamper.ts";

const root = mkdtempSync(join(tmpdir(), "bw-store-"));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `s${n++}`);

function opened(dir: string, kek = memoryKek(Buffer.alloc(32, 1))) {
  const events: StoreTamperEvent[] = [];
  return { store: openStore({ dir, kek, onSecurityEvent: (e) => events.push(e) }), events, kek };
}

const tamperOf = (reason: string, kind: string) => (e: unknown) =>
  e instanceof StoreTamperError && e.event.reason === reason && e.event.location.kind === kind;

describe("store: records under per-purpose data keys", () => {
  it("keeps keys, state and queued data across reopening, encrypted on disk", () => {
    const dir = fresh();
    const { store, kek } = opened(dir);
    store.put("keys", "device-key", Buffer.from("-----BEGIN PRIVATE KEY-----"));
    store.putJson("state", "config", { telemetry: 60 });
    const first = store.enqueue(Buffer.from("event 1"));
    const second = store.enqueue(Buffer.from("event 2"));
    assert.ok(first < second);

    const again = openStore({ dir, kek });
    assert.equal(again.get("keys", "device-key")?.toString(), "-----BEGIN PRIVATE KEY-----");
    assert.deepEqual(again.getJson("state", "config"), { telemetry: 60 });
    assert.deepEqual(
      again.peekQueue().map((e) => e.value.toString()),
      ["event 1", "event 2"],
    );
    again.ack(first);
    assert.deepEqual(
      again.peekQueue().map((e) => e.id),
      [second],
    );
    assert.equal(again.get("state", "missing"), undefined);
    assert.ok(!readFileSync(join(dir, "keys", "device-key.rec")).includes("PRIVATE KEY"));
    assert.equal(statSync(join(dir, "state", "config.rec")).mode & 0o777, 0o600);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
  });

  it("refuses record names that could leave the purpose's directory", () => {
    const { store } = opened(fresh());
    for (const name of ["../keyring", "a/b", "", "UPPER", ".hidden"])
      assert.throws(() => store.put("state", name, Buffer.from("x")), RangeError, name);
  });

  it("rotates the key-encryption key without rewriting records; the old KEK no longer opens it", () => {
    const dir = fresh();
    const { store, kek } = opened(dir);
    store.put("state", "config", Buffer.from("v1"));
    const next = memoryKek(randomBytes(32));
    store.rotateKek(next);
    assert.equal(openStore({ dir, kek: next }).get("state", "config")?.toString(), "v1");
    assert.throws(() => openStore({ dir, kek }), tamperOf("authentication-failed", "keyring"));
  });

  it("crypto-erases: with the KEK file destroyed, a new KEK cannot open the store", () => {
    const dir = fresh();
    const kekPath = join(root, `kek-${n}`);
    openStore({ dir, kek: fileKek(kekPath) }).put("keys", "device-key", Buffer.from("secret"));
    destroyFileKek(kekPath);
    assert.throws(() => openStore({ dir, kek: fileKek(kekPath) }), StoreTamperError);
  });
});

describe("store: tampering is detected and reported as a device security event", () => {
  it("a changed byte in a record: reported, then StoreTamperError; the data is never returned", () => {
    const dir = fresh();
    const { store, events } = opened(dir);
    store.put("state", "config", Buffer.from("telemetry=60"));
    const path = join(dir, "state", "config.rec");
    const bytes = readFileSync(path);
    bytes[bytes.length - 20]! ^= 0x01;
    writeFileSync(path, bytes);
    assert.throws(() => store.get("state", "config"), tamperOf("authentication-failed", "record"));
    assert.equal(events.length, 1);
    assert.deepEqual(events[0]!.location, { kind: "record", purpose: "state", name: "config" });
    // The agent reports it on its `events` topic as an integrity failure the server accepts.
    const report = toSecurityReport(events[0]!);
    assert.deepEqual(parseDeviceReport(JSON.parse(JSON.stringify(report))), report);
    assert.equal(report.kind, "integrity-failure");
  });

  it("a record copied over another (or to another purpose) fails: the name and purpose are bound", () => {
    const dir = fresh();
    const { store, events } = opened(dir);
    store.put("state", "a", Buffer.from("A"));
    store.put("state", "b", Buffer.from("B"));
    copyFileSync(join(dir, "state", "a.rec"), join(dir, "state", "b.rec"));
    copyFileSync(join(dir, "state", "a.rec"), join(dir, "keys", "a.rec"));
    assert.throws(() => store.get("state", "b"), tamperOf("authentication-failed", "record"));
    assert.throws(() => store.get("keys", "a"), tamperOf("authentication-failed", "record"));
    assert.equal(store.get("state", "a")?.toString(), "A", "positive control: the original still opens");
    assert.equal(events.length, 2);
  });

  it("a truncated or foreign file is 'malformed'", () => {
    const dir = fresh();
    const { store } = opened(dir);
    store.put("state", "config", Buffer.from("x"));
    writeFileSync(join(dir, "state", "config.rec"), "not a record");
    assert.throws(() => store.get("state", "config"), tamperOf("malformed", "record"));
  });

  it("a changed or deleted keyring is reported when the store is opened", () => {
    const dir = fresh();
    const { store, kek } = opened(dir);
    store.put("keys", "device-key", Buffer.from("k"));
    const path = join(dir, "keyring.json");
    const keyring = JSON.parse(readFileSync(path, "utf8"));
    const original = keyring.keys.keys;
    keyring.keys.keys = keyring.keys.state; // another purpose's wrapped key
    writeFileSync(path, JSON.stringify(keyring));
    const events: StoreTamperEvent[] = [];
    assert.throws(
      () => openStore({ dir, kek, onSecurityEvent: (e) => events.push(e) }),
      tamperOf("authentication-failed", "keyring"),
    );
    writeFileSync(path, "{");
    assert.throws(() => openStore({ dir, kek }), tamperOf("malformed", "keyring"));
    rmSync(path);
    assert.throws(() => openStore({ dir, kek }), tamperOf("keyring-missing", "keyring"));
    assert.equal(events.length, 1);
    keyring.keys.keys = original;
    writeFileSync(path, JSON.stringify(keyring));
    assert.equal(openStore({ dir, kek }).get("keys", "device-key")?.toString(), "k", "restored: opens again");
  });
});
