import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, describe, it } from "node:test";
import { zstdDecompressSync } from "node:zlib";
import {
  decodeSegmentHeader,
  SEGMENT_HEADER_BYTES,
  SEGMENTED_MAGIC,
  segmentReference,
} from "@bulwark/sdk/wire/delta";
import { realBinary } from "../../../../test/delta-images.ts";
import { FileArtifactStore } from "./artifact-store.ts";
import { segmentedDelta, segmentedLayout } from "./delta-segmented.ts";

const layout = { segmentBytes: 64 * 1024, marginBytes: 64 * 1024 };

/** Reads a `zstd-seg` delta as the wire contract lays it out: the segments' headers and frames. */
function segments(delta: Buffer) {
  assert.ok(delta.subarray(0, SEGMENTED_MAGIC.length).equals(SEGMENTED_MAGIC));
  const out: { header: ReturnType<typeof decodeSegmentHeader>; frame: Buffer }[] = [];
  for (let at = SEGMENTED_MAGIC.length; at < delta.length; ) {
    const header = decodeSegmentHeader(delta.subarray(at, at + SEGMENT_HEADER_BYTES));
    at += SEGMENT_HEADER_BYTES;
    out.push({ header, frame: delta.subarray(at, at + header.frameLength) });
    at += header.frameLength;
  }
  return out;
}

describe("segmented delta generation (zstd-seg) on the server", () => {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-delta-seg-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const store = new FileArtifactStore(join(dir, "artifacts"));

  async function make(base: Buffer, image: Buffer): Promise<Buffer> {
    const b = await store.put(Readable.from([base]), base.length);
    const f = await store.put(Readable.from([image]), image.length);
    const chunks: Buffer[] = [];
    for await (const c of segmentedDelta(store, b, f, layout)) chunks.push(c);
    return Buffer.concat(chunks);
  }

  /** Rebuilds `image` from `delta` segment by segment, checking each reference's bounds. */
  function rebuild(delta: Buffer, base: Buffer) {
    const parts = segments(delta);
    const rebuilt = parts.map(({ header, frame }) => {
      assert.ok(header.referenceLength <= segmentedLayout(base.length, layout).referenceBytes);
      assert.ok(header.referenceOffset + header.referenceLength <= base.length);
      const dictionary = base.subarray(
        header.referenceOffset,
        header.referenceOffset + header.referenceLength,
      );
      return zstdDecompressSync(frame, { dictionary });
    });
    return { parts, image: Buffer.concat(rebuilt) };
  }

  it("cuts the image into segments, each with its reference of the base, rebuilt in order", async () => {
    const v1 = realBinary(1024 * 1024);
    // 20 KiB inserted just before a segment boundary: the bytes after it shift across boundaries.
    const cut = 3 * layout.segmentBytes - 5000;
    const v2 = Buffer.concat([v1.subarray(0, cut), randomBytes(20 * 1024), v1.subarray(cut)]);
    const delta = await make(v1, v2);
    const { parts, image } = rebuild(delta, v1);
    assert.equal(parts.length, Math.ceil(v2.length / layout.segmentBytes));
    assert.ok(image.equals(v2), "the segments rebuild the image in order");
    // Before the insertion, the reference is the default one (same offset ± the margin).
    const first = segmentReference(0, layout.segmentBytes, layout.marginBytes, v1.length);
    assert.deepEqual(
      [parts[0]!.header.referenceOffset, parts[0]!.header.referenceLength],
      [first.offset, first.length],
    );
    // Shifted bytes are found in the references: the delta is near the 20 KiB of new bytes.
    assert.ok(delta.length < 48 * 1024, `delta ${delta.length} bytes of ${v2.length}`);
  });

  it("references follow content moved farther than the margin (anchors in the base)", async () => {
    const v1 = realBinary(1024 * 1024);
    // 200 KiB inserted near the start: everything after moves by three times the 64 KiB margin.
    const v2 = Buffer.concat([v1.subarray(0, 10_000), randomBytes(200 * 1024), v1.subarray(10_000)]);
    const delta = await make(v1, v2);
    const { parts, image } = rebuild(delta, v1);
    assert.ok(image.equals(v2));
    // Segment 8 holds bytes from 200 KiB earlier in the base: its reference starts before the default one.
    const fixed = segmentReference(8, layout.segmentBytes, layout.marginBytes, v1.length);
    assert.ok(parts[8]!.header.referenceOffset < fixed.offset - 100 * 1024, JSON.stringify(parts[8]!.header));
    // The moved bytes cost little: near the 200 KiB of new ones (random, incompressible), not the 1 MiB.
    assert.ok(delta.length < 260 * 1024, `delta ${delta.length} bytes of ${v2.length}`);
  });

  it("finds every match in a high-entropy image (match tables of one entry per reference byte)", async () => {
    // Random bytes (a compressed file system): no match is found twice by chance, so an entry the
    // tables dropped is a block of the segment stored whole. With a quarter entry per reference
    // byte (2^18 entries for these 1 MiB references) about half of each segment was lost in every
    // run (deltas of 1,966,769 and 2,097,832 bytes of 4 MiB); with one entry per byte, none.
    const big = { segmentBytes: 512 * 1024, marginBytes: 256 * 1024 };
    const sizes: number[] = [];
    for (let run = 0; run < 2; run++) {
      const v1 = randomBytes(4 * 1024 * 1024);
      const v2 = Buffer.from(v1);
      for (const at of [100_000, 900_000, 1_700_000, 2_500_000, 3_300_000, 4_000_000])
        randomBytes(46).copy(v2, at);
      const cut = Math.floor(v2.length * 0.4);
      const image = Buffer.concat([v2.subarray(0, cut), randomBytes(4096), v2.subarray(cut)]);
      const b = await store.put(Readable.from([v1]), v1.length);
      const f = await store.put(Readable.from([image]), image.length);
      const chunks: Buffer[] = [];
      for await (const c of segmentedDelta(store, b, f, big)) chunks.push(c);
      const delta = Buffer.concat(chunks);
      const rebuilt = segments(delta).map(({ header, frame }) =>
        zstdDecompressSync(frame, {
          dictionary: v1.subarray(header.referenceOffset, header.referenceOffset + header.referenceLength),
        }),
      );
      assert.ok(Buffer.concat(rebuilt).equals(image));
      sizes.push(delta.length);
    }
    // ~4.4 KB of new bytes, 9 segments: every block matched leaves the delta near that.
    for (const size of sizes) assert.ok(size < 24 * 1024, `delta sizes ${sizes.join(", ")} bytes`);
  });

  it("refuses a stored image that is not the recorded length", async () => {
    const v1 = realBinary(256 * 1024);
    const b = await store.put(Readable.from([v1]), v1.length);
    const lying = { ...b, length: v1.length + 1 };
    await assert.rejects(
      async () => {
        for await (const _ of segmentedDelta(store, b, lying, layout));
      },
      { code: "BW_ERR_INTERNAL", message: /shorter than recorded/ },
    );
  });
});
