import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { AuthenticationError, EnvelopeFormatError, openEnvelope, sealEnvelope } from "./envelope.ts";

describe("aead: AES-256-GCM envelopes with associated data", () => {
  const key = randomBytes(32);
  const aad = Buffer.from("record:config");

  it("round-trips, with a fresh IV per envelope", () => {
    const a = sealEnvelope(key, Buffer.from("hello"), aad);
    const b = sealEnvelope(key, Buffer.from("hello"), aad);
    assert.notDeepEqual(a, b);
    assert.equal(openEnvelope(key, a, aad).toString(), "hello");
    assert.equal(openEnvelope(key, sealEnvelope(key, Buffer.alloc(0)), Buffer.alloc(0)).length, 0);
  });

  it("refuses another key, other associated data, and any changed byte", () => {
    const sealed = sealEnvelope(key, Buffer.from("hello"), aad);
    assert.throws(() => openEnvelope(randomBytes(32), sealed, aad), AuthenticationError);
    assert.throws(() => openEnvelope(key, sealed, Buffer.from("record:state")), AuthenticationError);
    for (let i = 1; i < sealed.length; i++) {
      const changed = Buffer.from(sealed);
      changed[i]! ^= 1;
      assert.throws(() => openEnvelope(key, changed, aad), AuthenticationError, `byte ${i}`);
    }
  });

  it("refuses an unknown version and a truncated envelope by format, before decrypting", () => {
    const sealed = sealEnvelope(key, Buffer.from("hello"), aad);
    assert.throws(() => openEnvelope(key, Buffer.from([9, ...sealed.subarray(1)]), aad), EnvelopeFormatError);
    assert.throws(() => openEnvelope(key, sealed.subarray(0, 20), aad), EnvelopeFormatError);
    assert.throws(() => sealEnvelope(randomBytes(16), Buffer.from("x")), RangeError);
  });
});
