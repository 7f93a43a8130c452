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

  it("cuts the image into segments, each with its reference of the base around the same offset", async () => {
    const v1 = realBinary(1024 * 1024);
    // 20 KiB inserted just before a segment boundary: the bytes after it shift across boundaries.
    const cut = 3 * layout.segmentBytes - 5000;
    const v2 = Buffer.concat([v1.subarray(0, cut), randomBytes(20 * 1024), v1.subarray(cut)]);
    const delta = await make(v1, v2);
    const parts = segments(delta);
    assert.equal(parts.length, Math.ceil(v2.length / layout.segmentBytes));
    const rebuilt: Buffer[] = [];
    parts.forEach(({ header, frame }, i) => {
      const ref = segmentReference(i, layout.segmentBytes, layout.marginBytes, v1.length);
      assert.deepEqual([header.referenceOffset, header.referenceLength], [ref.offset, ref.length]);
      assert.ok(header.referenceLength <= segmentedLayout(v1.length, layout).referenceBytes);
      const dictionary = v1.subarray(header.referenceOffset, header.referenceOffset + header.referenceLength);
      rebuilt.push(zstdDecompressSync(frame, { dictionary }));
    });
    assert.ok(Buffer.concat(rebuilt).equals(v2), "the segments rebuild the image in order");
    // Shifted bytes are found in the references: the delta is near the 20 KiB of new bytes.
    assert.ok(delta.length < 48 * 1024, `delta ${delta.length} bytes of ${v2.length}`);
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
