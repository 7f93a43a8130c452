import assert from "node:assert/strict";
import { createPublicKey } from "node:crypto";
import { describe, it } from "node:test";
import {
  algorithmOfKey,
  generateSigningKeyPair,
  privateKeyFromRaw,
  publicKeyFromRaw,
  publicKeyFromSpki,
  SIGNATURE_ALGORITHMS,
  type SignatureAlgorithm,
  spkiOf,
} from "./algorithms.ts";
import { keySigner, SignatureUsageError, sign, verify } from "./signature.ts";

const message = Buffer.from("bulwark firmware 1.2.3");
// The "s" SLH-DSA sets take seconds per signature at 192/256 bits; one "s" set is enough here
// (every set is checked against the FIPS 205 key-generation vectors in sign.kat.test.ts).
const QUICK = SIGNATURE_ALGORITHMS.filter((a) => !/^slh-dsa-.*-(192|256)s$/.test(a));

describe("sign: one interface over every algorithm", () => {
  for (const algorithm of QUICK) {
    it(`${algorithm}: signs, verifies, and rejects a changed message or signature`, () => {
      const { privateKey, publicKey } = generateSigningKeyPair(algorithm);
      assert.equal(algorithmOfKey(publicKey), algorithm);
      const signature = sign(algorithm, privateKey, message);
      assert.equal(verify(algorithm, publicKey, message, signature), true);
      assert.equal(verify(algorithm, publicKey, Buffer.from("bulwark firmware 1.2.4"), signature), false);
      const flipped = Buffer.from(signature);
      flipped[flipped.length >> 1]! ^= 0x01;
      assert.equal(verify(algorithm, publicKey, message, flipped), false);
      assert.equal(verify(algorithm, publicKey, message, signature.subarray(0, 10)), false);
      // The same key read back from its SPKI still verifies (the form keys travel in).
      assert.equal(verify(algorithm, publicKeyFromSpki(spkiOf(publicKey)), message, signature), true);
    });
  }

  it("refuses a key of another algorithm instead of verifying with it", () => {
    const ecdsa = generateSigningKeyPair("ecdsa-p256");
    const signature = sign("ecdsa-p256", ecdsa.privateKey, message);
    assert.throws(() => verify("ml-dsa-65", ecdsa.publicKey, message, signature), SignatureUsageError);
    assert.throws(() => sign("ed25519", ecdsa.privateKey, message), SignatureUsageError);
  });

  it("binds the ML-DSA / SLH-DSA context string (FIPS 204 §5.2) and refuses one elsewhere", () => {
    for (const algorithm of ["ml-dsa-44", "slh-dsa-shake-128f"] as SignatureAlgorithm[]) {
      const { privateKey, publicKey } = generateSigningKeyPair(algorithm);
      const context = Buffer.from("bulwark/config");
      const signature = sign(algorithm, privateKey, message, { context });
      assert.equal(verify(algorithm, publicKey, message, signature, { context }), true);
      assert.equal(verify(algorithm, publicKey, message, signature), false);
      assert.equal(
        verify(algorithm, publicKey, message, signature, { context: Buffer.from("other") }),
        false,
      );
      assert.throws(() => sign(algorithm, privateKey, message, { context: Buffer.alloc(256) }), /255 bytes/);
    }
    const ed = generateSigningKeyPair("ed25519");
    assert.throws(() => sign("ed25519", ed.privateKey, message, { context: Buffer.from("x") }), /no context/);
  });

  it("derives the same key from the same raw seed, and reads raw public keys", () => {
    for (const algorithm of ["ecdsa-p256", "ed25519", "ml-dsa-65"] as SignatureAlgorithm[]) {
      const signer = keySigner(algorithm, privateKeyFromRaw(algorithm, Buffer.alloc(32, 7)));
      const raw = createPublicKey(privateKeyFromRaw(algorithm, Buffer.alloc(32, 7))).export({
        format: "raw-public",
      });
      const other = createPublicKey(privateKeyFromRaw(algorithm, Buffer.alloc(32, 8))).export({
        format: "raw-public",
      });
      const signature = signer.sign(message);
      assert.equal(verify(algorithm, publicKeyFromRaw(algorithm, raw), message, signature), true, algorithm);
      assert.equal(
        verify(algorithm, publicKeyFromRaw(algorithm, other), message, signature),
        false,
        algorithm,
      );
    }
  });
});
