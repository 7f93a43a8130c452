import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { tempDir } from "../../../test/helpers.ts";
import { openAgentStore } from "./device-store.ts";
import { peekEvents, spoolEvent, takeDroppedCount } from "./security-events.ts";

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
});
