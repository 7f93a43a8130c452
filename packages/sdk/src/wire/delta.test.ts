import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DELTA_LIMITS, deltaTargetPath, parseDeltaCustom, zstdDeltaParams } from "./delta.ts";
import { isJobNotify, type JobNotify } from "./jobs.ts";

const note: JobNotify = {
  type: "update",
  jobId: "job-1",
  deploymentId: "d",
  productId: "p",
  state: "notified",
  targets: [{ path: "firmware/1.1.0/fw.img", artifact: "binary" }],
  component: "firmware",
  version: "1.1.0",
  kind: "feature",
  mandatory: false,
  maxDeferralSeconds: 0,
  window: null,
  network: { metered: "allow" },
  rollback: false,
  issuedAt: 1,
};

const custom = {
  delta: {
    format: "zstd-dict",
    base: { sha256: "a".repeat(64), length: 10, version: "1.0.0" },
    target: { path: "firmware/1.1.0/fw.img", length: 12, sha256: "b".repeat(64) },
    windowLog: 20,
  },
};

describe("delta wire contract (issue #15 item 10)", () => {
  it("a job notification carries an optional delta policy, one of off, prefer, require", () => {
    assert.equal(isJobNotify(note), true, "absent: older servers");
    for (const delta of ["off", "prefer", "require"]) assert.equal(isJobNotify({ ...note, delta }), true);
    assert.equal(isJobNotify({ ...note, delta: "sometimes" }), false);
  });

  it("names a delta target after the full target and the base's SHA-256, in the same directory", () => {
    assert.equal(
      deltaTargetPath("firmware/1.1.0/fw.img", "a".repeat(64)),
      `firmware/1.1.0/fw.img.from-${"a".repeat(64)}.zst`,
    );
  });

  it("reads a well-formed custom.delta and nothing else", () => {
    assert.deepEqual(parseDeltaCustom(custom), custom.delta);
    assert.equal(parseDeltaCustom(undefined), undefined);
    assert.equal(parseDeltaCustom({ delta: { ...custom.delta, format: "bsdiff" } }), undefined);
    assert.equal(
      parseDeltaCustom({ delta: { ...custom.delta, base: { ...custom.delta.base, sha256: "A" } } }),
      undefined,
    );
    assert.equal(parseDeltaCustom({ delta: { ...custom.delta, windowLog: "20" } }), undefined);
    assert.equal(parseDeltaCustom({ delta: { ...custom.delta, target: null } }), undefined);
  });

  it("sizes the window to base + image and the tables to the base, within the device's limit", () => {
    const MiB = 1024 * 1024;
    assert.deepEqual(zstdDeltaParams(32 * MiB, 32 * MiB), { windowLog: 26, hashLog: 24 });
    assert.deepEqual(zstdDeltaParams(64 * MiB, 64 * MiB), { windowLog: 27, hashLog: 25 });
    assert.deepEqual(zstdDeltaParams(1000, 1000), { windowLog: 20, hashLog: 16 });
    assert.equal(zstdDeltaParams(512 * MiB, 512 * MiB).windowLog, DELTA_LIMITS.maxWindowLog);
  });
});
