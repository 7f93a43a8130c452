import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { jobIdFor } from "./deployment-jobs.ts";

describe("job ids computed from deployment and device", () => {
  it("are RFC 9562 version 8 UUIDs, the same for the same pair and different for any other", () => {
    const id = jobIdFor("deployment-1", "device-a");
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(jobIdFor("deployment-1", "device-a"), id);
    assert.notEqual(jobIdFor("deployment-1", "device-b"), id);
    assert.notEqual(jobIdFor("deployment-2", "device-a"), id);
    const many = new Set(Array.from({ length: 10_000 }, (_, i) => jobIdFor("d", `device-${i}`)));
    assert.equal(many.size, 10_000);
  });
});
