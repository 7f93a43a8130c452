import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { base32Decode, base32Encode, hotp, otpauthUri, timeStep, totpAt, verifyTotp } from "./totp.ts";

// RFC 4226 Appendix D and RFC 6238 Appendix B (SHA-1 seed "12345678901234567890").
const SEED = Buffer.from("12345678901234567890");

describe("TOTP (RFC 6238)", () => {
  it("matches the RFC 4226 HOTP test vectors", () => {
    const expected = [
      "755224",
      "287082",
      "359152",
      "969429",
      "338314",
      "254676",
      "287922",
      "162583",
      "399871",
      "520489",
    ];
    assert.deepEqual(
      expected.map((_, i) => hotp(SEED, i)),
      expected,
    );
  });

  it("matches the RFC 6238 SHA-1 vectors (last six of the eight digits)", () => {
    const vectors: [number, string][] = [
      [59, "94287082"],
      [1111111109, "07081804"],
      [1111111111, "14050471"],
      [1234567890, "89005924"],
      [2000000000, "69279037"],
      [20000000000, "65353130"],
    ];
    for (const [seconds, code] of vectors) assert.equal(totpAt(SEED, seconds * 1000), code.slice(2));
  });

  it("accepts ±1 step, refuses older codes and a replayed step", () => {
    const now = 1_700_000_000_000;
    const step = timeStep(now);
    assert.equal(verifyTotp(SEED, hotp(SEED, step - 1), now, 0), step - 1);
    assert.equal(verifyTotp(SEED, hotp(SEED, step + 1), now, 0), step + 1);
    assert.equal(verifyTotp(SEED, hotp(SEED, step - 2), now, 0), undefined);
    assert.equal(verifyTotp(SEED, hotp(SEED, step), now, step), undefined, "replay of a used step");
    assert.equal(verifyTotp(SEED, "12345", now, 0), undefined);
  });

  it("base32 round-trips and the otpauth URI carries the parameters", () => {
    assert.equal(base32Encode(Buffer.from("foobar")), "MZXW6YTBOI");
    assert.deepEqual(base32Decode("MZXW6YTBOI"), Buffer.from("foobar"));
    assert.match(
      otpauthUri(SEED, "alice"),
      /^otpauth:\/\/totp\/Bulwark:alice\?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Bulwark&algorithm=SHA1&digits=6&period=30$/,
    );
  });
});
