import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { constants, zstdCompressSync } from "node:zlib";
import {
  encodeSegmentHeader,
  SEGMENT_HEADER_BYTES,
  SEGMENTED_MAGIC,
  segmentCount,
  segmentLength,
  segmentReference,
  zstdSegmentParams,
} from "@bulwark/sdk/wire/delta";
import { realBinary } from "../../../../test/delta-images.ts";
import { applyDelta, DeltaRefused } from "./delta-apply.ts";

const hex = (algorithm: string, b: Buffer) => createHash(algorithm).update(b).digest("hex");
const hashes = (b: Buffer) => ({ sha256: hex("sha256", b), sha512: hex("sha512", b) });

/** Small segments so a 1 MiB test image has 16 of them; the server uses 8 MiB (`SEGMENTED_DELTA`). */
const layout = { segmentBytes: 64 * 1024, marginBytes: 64 * 1024 };
const format = {
  format: "zstd-seg" as const,
  segmentBytes: layout.segmentBytes,
  referenceBytes: 3 * 64 * 1024,
};

/**
 * A `zstd-seg` delta laid out as the wire contract says (the server's `delta-segmented.ts` makes
 * the same on a worker thread): magic, then per segment its header and a Zstandard frame with the
 * segment's reference of the base as dictionary.
 */
function makeSegmented(
  base: Buffer,
  image: Buffer,
): { delta: Buffer; frames: { at: number; length: number }[] } {
  const parts: Buffer[] = [SEGMENTED_MAGIC];
  const frames: { at: number; length: number }[] = [];
  let at = SEGMENTED_MAGIC.length;
  const { windowLog, hashLog } = zstdSegmentParams(format.referenceBytes, layout.segmentBytes);
  for (let i = 0; i < segmentCount(image.length, layout.segmentBytes); i++) {
    const start = i * layout.segmentBytes;
    const data = image.subarray(start, start + segmentLength(i, image.length, layout.segmentBytes));
    const ref = segmentReference(i, layout.segmentBytes, layout.marginBytes, base.length);
    const frame = zstdCompressSync(data, {
      dictionary: base.subarray(ref.offset, ref.offset + ref.length),
      params: {
        [constants.ZSTD_c_compressionLevel]: 9,
        [constants.ZSTD_c_windowLog]: windowLog,
        [constants.ZSTD_c_hashLog]: hashLog,
        [constants.ZSTD_c_chainLog]: hashLog,
        [constants.ZSTD_c_checksumFlag]: 1,
      },
    });
    parts.push(
      encodeSegmentHeader({
        referenceOffset: ref.offset,
        referenceLength: ref.length,
        frameLength: frame.length,
      }),
      frame,
    );
    frames.push({ at: at + SEGMENT_HEADER_BYTES, length: frame.length });
    at += SEGMENT_HEADER_BYTES + frame.length;
  }
  return { delta: Buffer.concat(parts), frames };
}

describe("segmented (zstd-seg) deltas on the device: one segment at a time, checked against the full target", () => {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-delta-seg-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const v1 = realBinary(1024 * 1024);
  // 20 KiB inserted 5,000 bytes before the boundary of segments 2 and 3: everything after it
  // shifts across segment boundaries (by less than the margin), plus a patched region.
  const cut = 3 * layout.segmentBytes - 5000;
  const v2 = Buffer.concat([v1.subarray(0, cut), randomBytes(20 * 1024), v1.subarray(cut)]);
  randomBytes(4096).copy(v2, 700 * 1024);
  const base = join(dir, "slot-a.img");
  writeFileSync(base, v1);
  let n = 0;
  function attempt(delta: Buffer, full: Buffer, baseFile = base) {
    const deltaFile = join(dir, `d${++n}.zseg`);
    const dest = join(dir, `out${n}.img`);
    writeFileSync(deltaFile, delta);
    const run = applyDelta({
      delta: deltaFile,
      base: baseFile,
      dest,
      length: full.length,
      hashes: hashes(full),
      format,
    });
    return { run, dest };
  }
  const refused = (pattern: RegExp) => (e: Error) => e instanceof DeltaRefused && pattern.test(e.message);
  const leftNothing = (dest: string) => {
    assert.equal(existsSync(dest), false);
    assert.equal(existsSync(`${dest}.part`), false);
  };

  it("rebuilds content shifted across a segment boundary from a small delta", async () => {
    const { delta } = makeSegmented(v1, v2);
    // 24 KiB of new bytes in 1 MiB: the shifted bytes are found in each segment's reference.
    assert.ok(delta.length < 64 * 1024, `delta ${delta.length} of ${v2.length}`);
    const { run, dest } = attempt(delta, v2);
    await run;
    assert.ok(readFileSync(dest).equals(v2));
    assert.equal(existsSync(`${dest}.part`), false);
  });

  it("a shift larger than the margin still rebuilds exactly (the delta is only larger)", async () => {
    const far = Buffer.concat([randomBytes(200 * 1024), v1]);
    const { delta } = makeSegmented(v1, far);
    const { run, dest } = attempt(delta, far);
    await run;
    assert.ok(readFileSync(dest).equals(far));
  });

  it("refuses a tampered segment, nothing written", async () => {
    const { delta, frames } = makeSegmented(v1, v2);
    const tampered = Buffer.from(delta);
    const f = frames[5]!;
    tampered[f.at + Math.floor(f.length / 2)] = tampered[f.at + Math.floor(f.length / 2)]! ^ 0xff;
    const { run, dest } = attempt(tampered, v2);
    await assert.rejects(run, refused(/segment 5 |sha256 does not match/));
    leftNothing(dest);
  });

  it("refuses a delta applied to another base: the result does not match, nothing written", async () => {
    const otherBase = join(dir, "other-base.img");
    const changed = Buffer.from(v1);
    changed.fill(0x5a, 100_000, 400_000);
    writeFileSync(otherBase, changed);
    const { run, dest } = attempt(makeSegmented(v1, v2).delta, v2, otherBase);
    await assert.rejects(run, refused(/does not match|does not decode/));
    leftNothing(dest);
  });

  it("refuses a segment that rebuilds past its length, and bytes past the last segment", async () => {
    // The delta of an image 1,000 bytes longer: its last frame decodes to more than the last segment.
    const longer = Buffer.concat([v2, randomBytes(1000)]);
    const a = attempt(makeSegmented(v1, longer).delta, v2);
    await assert.rejects(a.run, refused(/rebuilds more than its \d+ bytes/));
    leftNothing(a.dest);
    // The delta of an image a whole segment longer: an extra segment after the signed length.
    const extra = Buffer.concat([v2.subarray(0, 15 * layout.segmentBytes), randomBytes(layout.segmentBytes)]);
    const short = v2.subarray(0, 15 * layout.segmentBytes);
    const b = attempt(makeSegmented(v1, extra).delta, short);
    await assert.rejects(b.run, refused(/goes on past the full target's signed length/));
    leftNothing(b.dest);
  });

  it("refuses a reference outside the device's image or over the signed size", async () => {
    const { delta } = makeSegmented(v1, v2);
    const bad = Buffer.from(delta);
    // The first segment's header: its reference offset moved past the end of the base.
    bad.writeBigUInt64BE(BigInt(v1.length), SEGMENTED_MAGIC.length);
    const { run, dest } = attempt(bad, v2);
    await assert.rejects(run, refused(/segment 0's reference is outside/));
    leftNothing(dest);
    // An offset no file can have (2^64 − 1): refused as an invalid header, not a crash.
    bad.fill(0xff, SEGMENTED_MAGIC.length, SEGMENTED_MAGIC.length + 8);
    const again = attempt(bad, v2);
    await assert.rejects(again.run, refused(/segment 0's header is invalid/));
    leftNothing(again.dest);
  });

  it("refuses a truncated delta", async () => {
    const { delta } = makeSegmented(v1, v2);
    const { run, dest } = attempt(delta.subarray(0, delta.length - 10), v2);
    await assert.rejects(run, refused(/the delta ends inside segment \d+'s frame/));
    leftNothing(dest);
  });
});
