import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { generateSigningKeyPair } from "./algorithms.ts";
import { hybridSign, hybridSignedBytes, hybridVerify } from "./hybrid.ts";
import { keySigner, SignatureUsageError, verify } from "./signature.ts";

const pairOf = (
  classical: "ecdsa-p256" | "ed25519",
  postQuantum: "ml-dsa-44" | "ml-dsa-65" | "ml-dsa-87",
) => {
  const c = generateSigningKeyPair(classical);
  const q = generateSigningKeyPair(postQuantum);
  return {
    signers: {
      classical: keySigner(classical, c.privateKey),
      postQuantum: keySigner(postQuantum, q.privateKey),
    },
    key: { classical: c.publicKey, postQuantum: q.publicKey },
  };
};

describe("sign: hybrid classical + ML-DSA", () => {
  const message = Buffer.from("targets.json v42");

  for (const [c, q] of [
    ["ecdsa-p256", "ml-dsa-65"],
    ["ed25519", "ml-dsa-44"],
    ["ed25519", "ml-dsa-87"],
  ] as const) {
    it(`${c} + ${q}: verifies only when both halves verify`, () => {
      const { signers, key } = pairOf(c, q);
      const signature = hybridSign(signers, key, message);
      assert.deepEqual(hybridVerify(key, message, signature), { ok: true });
      const other = hybridSign(signers, key, Buffer.from("targets.json v41"));
      assert.deepEqual(hybridVerify(key, message, { ...signature, classical: other.classical }), {
        ok: false,
        failed: "classical",
      });
      assert.deepEqual(hybridVerify(key, message, { ...signature, postQuantum: other.postQuantum }), {
        ok: false,
        failed: "post-quantum",
      });
      assert.deepEqual(hybridVerify(key, message, other), { ok: false, failed: "both" });
    });
  }

  it("binds both keys: a half cannot be lifted into a pairing with another key", () => {
    const a = pairOf("ecdsa-p256", "ml-dsa-65");
    const b = pairOf("ecdsa-p256", "ml-dsa-65");
    const signature = hybridSign(a.signers, a.key, message);
    // Same classical key, another ML-DSA key: the classical half no longer verifies either.
    const mixed = { classical: a.key.classical, postQuantum: b.key.postQuantum };
    const forged = {
      classical: signature.classical,
      postQuantum: hybridSign(b.signers, b.key, message).postQuantum,
    };
    assert.deepEqual(hybridVerify(mixed, message, forged), { ok: false, failed: "both" });
    // Positive control: the classical half does verify over the bytes it was made for.
    assert.equal(
      verify("ecdsa-p256", a.key.classical, hybridSignedBytes(a.key, message), signature.classical),
      true,
    );
  });

  it("refuses a pairing that is not classical + ML-DSA", () => {
    const { signers, key } = pairOf("ecdsa-p256", "ml-dsa-65");
    const swapped = { classical: key.postQuantum, postQuantum: key.classical };
    assert.throws(() => hybridSign(signers, swapped, message), SignatureUsageError);
  });
});
