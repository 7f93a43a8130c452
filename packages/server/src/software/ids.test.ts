import assert from "node:assert/strict";
import { test } from "node:test";
import { findingId, findingKey, MATCH_LIMIT, parseFindingId, RELEASE_SPAN, releaseIdPrefix } from "./ids.ts";

test("composed finding ids are RFC 9562 version 8 UUIDs that parse back to release prefix and match", () => {
  const prefix = releaseIdPrefix();
  assert.match(prefix, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{2}$/);
  assert.notEqual(releaseIdPrefix(), prefix);
  const id = findingId(prefix, 0x1234567);
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.deepEqual(parseFindingId(id), { prefix, matchNo: 0x1234567 });
  assert.deepEqual(parseFindingId(id.toUpperCase()), { prefix, matchNo: 0x1234567 });
  // Stored (version 4 / 7) ids and anything else are not composed ids.
  assert.equal(parseFindingId("0190a1b2-c3d4-7e5f-8a1b-0123456789ab"), undefined);
  assert.equal(parseFindingId("not an id"), undefined);
  assert.equal(parseFindingId(findingId(prefix, MATCH_LIMIT)), undefined, "beyond the match range");
});

test("finding keys put a match's findings in one range and stay safe integers", () => {
  assert.equal(findingKey(3, 7), 3 * RELEASE_SPAN + 7);
  assert.ok(findingKey(2, RELEASE_SPAN - 1) < findingKey(3, 0));
  assert.ok(Number.isSafeInteger(findingKey(MATCH_LIMIT - 1, RELEASE_SPAN - 1)));
});
