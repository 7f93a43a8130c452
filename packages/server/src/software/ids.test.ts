import assert from "node:assert/strict";
import { test } from "node:test";
import { timeOrderedUuid } from "./ids.ts";

test("time-ordered UUIDs are RFC 9562 version 7 and sort by their millisecond", () => {
  const a = timeOrderedUuid(1_700_000_000_000);
  const b = timeOrderedUuid(1_700_000_000_001);
  assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(a.slice(0, 13).replace("-", ""), (1_700_000_000_000).toString(16).padStart(12, "0"));
  assert.ok(a < b);
  assert.notEqual(timeOrderedUuid(5), timeOrderedUuid(5));
});
