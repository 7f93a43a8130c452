import assert from "node:assert/strict";
import { createHash, randomBytes, randomInt } from "node:crypto";
import { describe, it } from "node:test";
import { openSha512Sessions, sha512OffThread } from "./sha512-thread.ts";

describe("SHA-512 on the hashing thread", () => {
  it("equals node:crypto's digest for chunks that straddle, fill and undershoot the slabs", async () => {
    // Two slabs of 1 KiB: most chunks cross a slab boundary, and `update` must wait for slabs to
    // come back from the worker many times over.
    const session = sha512OffThread(2, 1024);
    const reference = createHash("sha512");
    for (let i = 0; i < 400; i++) {
      const chunk = randomBytes(randomInt(0, 3000));
      reference.update(chunk);
      await session.update(chunk);
    }
    const exact = randomBytes(1024);
    reference.update(exact);
    await session.update(exact);
    assert.equal(await session.digest(), reference.digest("hex"));
    assert.equal(openSha512Sessions(), 0);
  });

  it("hashes the empty stream and runs concurrent sessions apart", async () => {
    const empty = sha512OffThread();
    const a = sha512OffThread(2, 64);
    const b = sha512OffThread(2, 64);
    const bytesA = randomBytes(5000);
    const bytesB = randomBytes(7000);
    await Promise.all([a.update(bytesA), b.update(bytesB)]);
    assert.deepEqual(await Promise.all([empty.digest(), a.digest(), b.digest()]), [
      createHash("sha512").digest("hex"),
      createHash("sha512").update(bytesA).digest("hex"),
      createHash("sha512").update(bytesB).digest("hex"),
    ]);
  });

  it("closes an aborted session, and the worker still serves the next one", async () => {
    const aborted = sha512OffThread();
    await aborted.update(randomBytes(100));
    assert.equal(openSha512Sessions(), 1);
    aborted.abort();
    assert.equal(openSha512Sessions(), 0);
    const next = sha512OffThread();
    await next.update(Buffer.from("abc"));
    // FIPS 180-2 appendix C.1: SHA-512("abc").
    assert.equal(
      await next.digest(),
      "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
    );
  });
});
