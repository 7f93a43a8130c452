import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { tempDir } from "../../../test/helpers.ts";
import { openAgentStore } from "./device-store.ts";
import {
  MAX_QUEUED_EVENTS,
  peekEvents,
  queueDroppedNotice,
  queueEvent,
  spoolEvent,
  takeDroppedCount,
} from "./security-events.ts";

describe("agent: events queued while offline, within a bound", () => {
  it("keeps the newest events up to the bound, counts the ones it pushed out, and keeps them until acknowledged", () => {
    const store = openAgentStore(join(tempDir("bulwark-queue-"), "state"));
    for (let i = 1; i <= 5; i++) spoolEvent(store, "login-failed", `event ${i}`, 3);
    const queued = peekEvents(store);
    assert.deepEqual(
      queued.map((q) => q.event.detail),
      ["event 3", "event 4", "event 5"],
    );
    assert.equal(takeDroppedCount(store), 2);
    assert.equal(takeDroppedCount(store), 0, "the count is reported once");
    assert.equal(peekEvents(store).length, 3, "peeking does not take them");
    store.ack(queued[0]!.id);
    assert.deepEqual(
      peekEvents(store).map((q) => q.event.detail),
      ["event 4", "event 5"],
    );
  });

  it("turns the dropped count into one queued notice, kept until acknowledged like any event", () => {
    const dir = join(tempDir("bulwark-queue-"), "state");
    const store = openAgentStore(dir);
    for (let i = 1; i <= 4; i++) spoolEvent(store, "login-failed", `event ${i}`, 2);
    assert.equal(queueDroppedNotice(store), 2);
    assert.equal(queueDroppedNotice(store), 0, "the count is turned into a notice once");
    assert.equal(takeDroppedCount(store), 0);
    // Queued after the bound's survivors, past the bound (nothing more pushed out), and in the store:
    // another handle on it (the agent after a restart) still finds it.
    const queued = peekEvents(openAgentStore(dir));
    assert.deepEqual(
      queued.map((q) => q.event.detail),
      [
        "event 3",
        "event 4",
        `2 security events dropped while offline (the device queues at most ${MAX_QUEUED_EVENTS})`,
      ],
    );
    assert.equal(queued[2]!.event.kind, "integrity-failure");
  });

  it("queues an event already made as it is, its queue id distinct from every other", () => {
    const store = openAgentStore(join(tempDir("bulwark-queue-"), "state"));
    const event = {
      type: "security-event" as const,
      kind: "integrity-failure" as const,
      at: "2026-12-06T12:00:00.000Z",
      detail: "store record tampered",
    };
    const ids = [queueEvent(store, event), queueEvent(store, event)];
    assert.notEqual(ids[0], ids[1]);
    assert.match(ids[0]!, /^[A-Za-z0-9_-]{1,64}$/, "a queue id is a valid event id on the wire");
    assert.deepEqual(
      peekEvents(store).map((q) => [q.id, q.event]),
      ids.map((id) => [id, event]),
    );
  });
});
