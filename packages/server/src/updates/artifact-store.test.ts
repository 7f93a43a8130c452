import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { text } from "node:stream/consumers";
import { after, describe, it } from "node:test";
import { BulwarkError } from "@bulwark/sdk/errors";
import { FileArtifactStore } from "./artifact-store.ts";
import { openSha512Sessions } from "./sha512-thread.ts";

const dir = mkdtempSync(join(tmpdir(), "bulwark-artifacts-"));
after(() => rmSync(dir, { recursive: true, force: true }));

async function* chunks(parts: Buffer[]): AsyncIterable<Buffer> {
  for (const part of parts) yield part;
}

describe("FileArtifactStore", () => {
  const store = new FileArtifactStore(dir);

  it("hashes while streaming, stores by SHA-256 and keeps one copy of identical bytes", async () => {
    const parts = [randomBytes(1000), randomBytes(3000), randomBytes(5)];
    const whole = Buffer.concat(parts);
    const stored = await store.put(chunks(parts), 10_000);
    assert.deepEqual(stored, {
      length: whole.length,
      sha256: createHash("sha256").update(whole).digest("hex"),
      sha512: createHash("sha512").update(whole).digest("hex"),
    });
    assert.deepEqual(await store.put(chunks([whole]), 10_000), stored);
    assert.deepEqual(readdirSync(join(dir, stored.sha256.slice(0, 2))), [stored.sha256]);
    const range = await text(await store.read(stored.sha256, { start: 10, end: 19 }));
    assert.equal(range, whole.subarray(10, 20).toString());
  });

  it("reads objects larger than one read chunk, whole and by a range across chunk boundaries", async () => {
    const whole = randomBytes(700_000);
    const stored = await store.put(chunks([whole]), 1_000_000);
    // From disk (nothing kept in memory) and from memory (the default store keeps it once read).
    for (const reader of [new FileArtifactStore(dir, { maxBytes: 0, maxObjectBytes: 0 }), store, store]) {
      assert.ok(Buffer.concat(await (await reader.read(stored.sha256)).toArray()).equals(whole));
      const part = Buffer.concat(
        await (await reader.read(stored.sha256, { start: 200_000, end: 599_999 })).toArray(),
      );
      assert.ok(part.equals(whole.subarray(200_000, 600_000)));
    }
  });

  it("keeps small objects in memory within its limits and streams larger ones from disk", async () => {
    const hotDir = mkdtempSync(join(tmpdir(), "bulwark-hot-"));
    const hot = new FileArtifactStore(hotDir, { maxBytes: 300_000, maxObjectBytes: 200_000 });
    const small = randomBytes(150_000);
    const other = randomBytes(160_000);
    const large = randomBytes(250_000);
    const [a, b, big] = [
      await hot.put(chunks([small]), 1_000_000),
      await hot.put(chunks([other]), 1_000_000),
      await hot.put(chunks([large]), 1_000_000),
    ];
    const bytesOf = async (sha256: string, range?: { start: number; end: number }) =>
      Buffer.concat(await (await hot.read(sha256, range)).toArray());
    assert.ok((await bytesOf(a.sha256)).equals(small));
    assert.ok((await bytesOf(big.sha256)).equals(large));
    // With the files gone, only what was kept in memory can still be read.
    for (const sha256 of [a.sha256, big.sha256]) rmSync(join(hotDir, sha256.slice(0, 2), sha256));
    assert.ok((await bytesOf(a.sha256)).equals(small), "the small object is served from memory");
    assert.ok((await bytesOf(a.sha256, { start: 1000, end: 140_999 })).equals(small.subarray(1000, 141_000)));
    await assert.rejects(hot.read(big.sha256), (error: unknown) => {
      assert.ok(error instanceof BulwarkError);
      assert.equal(error.code, "BW_ERR_NOT_FOUND", "the large object was not kept");
      return true;
    });
    // A second small object exceeds the 300,000 bytes together: the least recently used one goes.
    assert.ok((await bytesOf(b.sha256)).equals(other));
    rmSync(join(hotDir, b.sha256.slice(0, 2), b.sha256));
    assert.ok((await bytesOf(b.sha256)).equals(other), "the newer object is kept");
    await assert.rejects(hot.read(a.sha256), (error: unknown) => {
      assert.ok(error instanceof BulwarkError);
      assert.equal(error.code, "BW_ERR_NOT_FOUND", "the older object was dropped");
      return true;
    });
    rmSync(hotDir, { recursive: true, force: true });
  });

  it("stops reading a chunked stream at the limit and leaves no file", async () => {
    let produced = 0;
    async function* endless(): AsyncIterable<Buffer> {
      while (produced < 10_000_000) {
        produced += 4096;
        yield Buffer.alloc(4096, 1);
      }
    }
    await assert.rejects(store.put(endless(), 100_000), (error: unknown) => {
      assert.ok(error instanceof BulwarkError);
      assert.equal(error.code, "BW_ERR_PAYLOAD_TOO_LARGE");
      return true;
    });
    assert.ok(produced < 200_000, `read ${produced} bytes of an endless stream`);
    assert.deepEqual(readdirSync(join(dir, "tmp")), []);
    assert.equal(openSha512Sessions(), 0, "the failed upload closed its hashing session");
  });

  it("answers unknown or malformed ids as not found", async () => {
    assert.equal(await store.has("0".repeat(64)), false);
    await assert.rejects(store.read("0".repeat(64)), (error: unknown) => {
      assert.ok(error instanceof BulwarkError);
      assert.equal(error.code, "BW_ERR_NOT_FOUND");
      return true;
    });
    await assert.rejects(store.read("../etc/passwd"), (error: unknown) => {
      assert.ok(error instanceof BulwarkError);
      assert.equal(error.code, "BW_ERR_NOT_FOUND");
      return true;
    });
  });
});
