import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { constants, zstdCompressSync } from "node:zlib";
import {
  DELTA_LIMITS,
  decodeSegmentHeader,
  deltaTargetPath,
  encodeSegmentHeader,
  parseDeltaCustom,
  SEGMENT_HEADER_BYTES,
  segmentCount,
  segmentLength,
  segmentReference,
  zstdDeltaParams,
} from "./delta.ts";
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
    assert.deepEqual(zstdDeltaParams(32 * MiB, 32 * MiB), { windowLog: 26, hashLog: 25, chainLog: 23 });
    assert.deepEqual(zstdDeltaParams(64 * MiB, 64 * MiB), { windowLog: 27, hashLog: 26, chainLog: 24 });
    assert.deepEqual(zstdDeltaParams(1000, 1000), { windowLog: 20, hashLog: 16, chainLog: 16 });
    assert.equal(zstdDeltaParams(512 * MiB, 512 * MiB).windowLog, DELTA_LIMITS.maxWindowLog);
  });

  it("with these tables every position of a random base is found again after a change (8 bases)", () => {
    // Half an entry per base byte left a whole 128 KiB block after the patch unmatched in about
    // half the runs (135,323 bytes instead of 4,260): 8 runs would catch that nearly always.
    for (let run = 0; run < 8; run++) {
      const base = randomBytes(1024 * 1024);
      const image = Buffer.from(base);
      image.write("a 46-byte change in the middle of the old image", 300_000);
      const next = Buffer.concat([image, randomBytes(4096)]);
      const p = zstdDeltaParams(base.length, next.length);
      const delta = zstdCompressSync(next, {
        dictionary: base,
        params: {
          [constants.ZSTD_c_compressionLevel]: 9,
          [constants.ZSTD_c_windowLog]: p.windowLog,
          [constants.ZSTD_c_hashLog]: p.hashLog,
          [constants.ZSTD_c_chainLog]: p.chainLog,
        },
      });
      // The 4 KiB appended cannot compress; everything else is a reference into the base.
      assert.ok(delta.length < 4096 + 1024, `run ${run}: ${delta.length} bytes`);
    }
  });

  it("zstd-seg: parsed only with its segment size and reference size (an older agent knows neither)", () => {
    const seg = {
      delta: { ...custom.delta, format: "zstd-seg", segmentBytes: 8 << 20, referenceBytes: 24 << 20 },
    };
    assert.deepEqual(parseDeltaCustom(seg), seg.delta);
    assert.equal(parseDeltaCustom({ delta: { ...seg.delta, segmentBytes: undefined } }), undefined);
    assert.equal(parseDeltaCustom({ delta: { ...seg.delta, segmentBytes: 0 } }), undefined);
    assert.equal(parseDeltaCustom({ delta: { ...seg.delta, referenceBytes: "1" } }), undefined);
    assert.equal(parseDeltaCustom({ delta: { ...seg.delta, format: "zstd-seg2" } }), undefined);
  });

  it("zstd-seg: a segment header round-trips; offsets past 4 GiB are kept", () => {
    const h = { referenceOffset: 5 * 2 ** 32 + 7, referenceLength: 24 << 20, frameLength: 12345 };
    const b = encodeSegmentHeader(h);
    assert.equal(b.length, SEGMENT_HEADER_BYTES);
    assert.deepEqual(decodeSegmentHeader(b), h);
    const huge = Buffer.alloc(SEGMENT_HEADER_BYTES, 0xff);
    assert.throws(() => decodeSegmentHeader(huge), RangeError);
  });

  it("zstd-seg: segments and their references around the same offset, clipped to the base", () => {
    const MiB = 1024 * 1024;
    assert.equal(segmentCount(20 * MiB, 8 * MiB), 3);
    assert.equal(segmentLength(2, 20 * MiB, 8 * MiB), 4 * MiB);
    assert.deepEqual(segmentReference(0, 8 * MiB, 8 * MiB, 100 * MiB), { offset: 0, length: 16 * MiB });
    assert.deepEqual(segmentReference(3, 8 * MiB, 8 * MiB, 100 * MiB), {
      offset: 16 * MiB,
      length: 24 * MiB,
    });
    assert.deepEqual(segmentReference(11, 8 * MiB, 8 * MiB, 100 * MiB), {
      offset: 80 * MiB,
      length: 20 * MiB,
    });
    assert.deepEqual(segmentReference(20, 8 * MiB, 8 * MiB, 100 * MiB), { offset: 100 * MiB, length: 0 });
  });
});
