import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hex, readKat } from "../../test/kat.ts";
import {
  type MlKemParameterSet,
  mlKemDecapsulate,
  mlKemKeyFromExpanded,
  mlKemKeyFromSeed,
  mlKemPublicKey,
  rawPublicKey,
} from "./ml-kem.ts";
import { x25519, x25519Base, x25519PrivateKey } from "./x25519.ts";
import { xwingDecapsulate, xwingKeyPair, xwingSecretKey } from "./xwing.ts";

// Known-answer tests (packages/sdk/test/data/kat/README.md names each source).

interface XWingVector {
  seed: string;
  randomness: string;
  pk: string;
  sk: string;
  ct: string;
  ss: string;
}

describe("kem: X-Wing test vectors (draft-connolly-cfrg-xwing-kem)", () => {
  const vectors = readKat<XWingVector[]>("xwing/xwing-test-vectors.json");

  it("derives the draft's public key from each seed and decapsulates its ciphertext to its secret", () => {
    assert.equal(vectors.length, 10);
    for (const [i, v] of vectors.entries()) {
      assert.equal(xwingKeyPair(hex(v.seed)).publicKey.toString("hex"), v.pk, `vector ${i}: pk`);
      assert.equal(xwingDecapsulate(hex(v.sk), hex(v.ct)).toString("hex"), v.ss, `vector ${i}: ss`);
      // The same with the key expanded once, as a device keeps it.
      const prepared = xwingSecretKey(hex(v.sk));
      assert.equal(prepared.publicKey.toString("hex"), v.pk);
      assert.equal(xwingDecapsulate(prepared, hex(v.ct)).toString("hex"), v.ss, `vector ${i}: ss (prepared)`);
    }
  });

  it("makes the draft's X25519 ciphertext half from the encapsulation randomness", () => {
    // node:crypto's ML-KEM takes no caller randomness, so encapsulation is checked here for the
    // X25519 half (ct_X = X25519(eseed[32:64], 9), §5.4) and end to end by decapsulation above.
    for (const v of vectors) {
      const ctX = x25519Base(x25519PrivateKey(hex(v.randomness).subarray(32, 64)));
      assert.equal(ctX.toString("hex"), v.ct.slice(-64));
    }
  });

  it("a changed ciphertext gives another secret (implicit rejection), never the vector's", () => {
    const v = vectors[0]!;
    const ct = hex(v.ct);
    ct[5]! ^= 1;
    assert.notEqual(xwingDecapsulate(hex(v.sk), ct).toString("hex"), v.ss);
  });
});

interface AcvpKemGroups<T> {
  testGroups: { parameterSet: string; function?: string; tests: T[] }[];
}
const setOf = (name: string) => name.toLowerCase() as MlKemParameterSet;

describe("kem: NIST ACVP ML-KEM (FIPS 203)", () => {
  it("keyGen: seeds d ‖ z give NIST's ek and dk, for ML-KEM-512/768/1024", () => {
    const kat = readKat<AcvpKemGroups<{ d: string; z: string; ek: string; dk: string }>>(
      "acvp/ML-KEM-keyGen-FIPS203/internalProjection.json.gz",
    );
    let checked = 0;
    for (const group of kat.testGroups) {
      for (const t of group.tests) {
        const seed = hex(t.d + t.z);
        assert.equal(
          rawPublicKey(mlKemKeyFromSeed(setOf(group.parameterSet), seed)).toString("hex"),
          t.ek.toLowerCase(),
        );
        // The PKCS#8 "both" form is accepted only when dk is the key this seed expands to.
        mlKemKeyFromExpanded(setOf(group.parameterSet), hex(t.dk), seed);
        checked++;
      }
    }
    assert.equal(checked, 75);
    // Negative control: one changed byte of dk is refused.
    const t = kat.testGroups[1]!.tests[0]!;
    const dk = hex(t.dk);
    dk[100]! ^= 1;
    assert.throws(() => mlKemKeyFromExpanded("ml-kem-768", dk, hex(t.d + t.z)), /invalid key/);
  });

  it("decapsulation with NIST's dk gives NIST's k, valid and implicitly rejected ciphertexts alike", () => {
    const kat = readKat<AcvpKemGroups<{ dk: string; c: string; k: string }>>(
      "acvp/ML-KEM-encapDecap-FIPS203/internalProjection.json.gz",
    );
    // The encapsulation groups carry dk, c and k too; their m cannot be fed to node:crypto's
    // Encaps, so they are checked by decapsulation as well.
    const groups = kat.testGroups.filter(
      (g) => g.function === "encapsulation" || g.function === "decapsulation",
    );
    let checked = 0;
    for (const group of groups) {
      for (const t of group.tests) {
        const key = mlKemKeyFromExpanded(setOf(group.parameterSet), hex(t.dk));
        assert.equal(mlKemDecapsulate(key, hex(t.c)).toString("hex"), t.k.toLowerCase());
        checked++;
      }
    }
    assert.equal(checked, 105);
  });

  it("key checks: ek (FIPS 203 §7.2 modulus) and dk (§7.3 hash) are refused exactly where NIST says", () => {
    const kat = readKat<AcvpKemGroups<{ tcId: number; testPassed: boolean; ek: string; dk: string }>>(
      "acvp/ML-KEM-encapDecap-FIPS203/internalProjection.json.gz",
    );
    const outcomes = { accepted: 0, refused: 0 };
    for (const group of kat.testGroups.filter((g) => g.function?.endsWith("KeyCheck"))) {
      for (const t of group.tests) {
        let accepted = true;
        try {
          if (group.function === "encapsulationKeyCheck")
            mlKemPublicKey(setOf(group.parameterSet), hex(t.ek));
          else mlKemKeyFromExpanded(setOf(group.parameterSet), hex(t.dk));
        } catch {
          accepted = false;
        }
        assert.equal(accepted, t.testPassed, `${group.parameterSet} ${group.function} tcId ${t.tcId}`);
        outcomes[accepted ? "accepted" : "refused"]++;
      }
    }
    assert.ok(outcomes.accepted > 0 && outcomes.refused > 0, JSON.stringify(outcomes));
  });
});

describe("kem: Wycheproof ML-KEM-768 and X25519", () => {
  it("ML-KEM-768: valid cases give the expected key; invalid seeds and ciphertexts are refused", () => {
    const kat = readKat<
      AcvpKemGroups<{ tcId: number; seed: string; ek: string; c: string; K: string; result: string }>
    >("wycheproof/mlkem_768_test.json.gz");
    const tally = { valid: 0, invalid: 0 };
    for (const t of kat.testGroups.flatMap((g) => g.tests)) {
      let ok: boolean;
      try {
        const key = mlKemKeyFromSeed("ml-kem-768", hex(t.seed));
        ok = rawPublicKey(key).equals(hex(t.ek)) && mlKemDecapsulate(key, hex(t.c)).equals(hex(t.K));
      } catch {
        ok = false;
      }
      assert.equal(ok, t.result === "valid", `tcId ${t.tcId}`);
      tally[t.result as "valid" | "invalid"]++;
    }
    assert.deepEqual(tally, { valid: 153, invalid: 40 });
  });

  it("X25519: every valid case agrees; 'acceptable' low-order cases agree or are refused (zero secret)", () => {
    const kat = readKat<
      AcvpKemGroups<{
        tcId: number;
        public: string;
        private: string;
        shared: string;
        result: string;
        flags: string[];
      }>
    >("wycheproof/x25519_test.json.gz");
    const tally = { agreed: 0, refusedZero: 0 };
    for (const t of kat.testGroups.flatMap((g) => g.tests)) {
      let shared: string | undefined;
      try {
        shared = x25519(x25519PrivateKey(hex(t.private)), hex(t.public)).toString("hex");
      } catch {
        shared = undefined;
      }
      if (shared === undefined) {
        assert.ok(
          t.result === "acceptable" && t.flags.includes("ZeroSharedSecret"),
          `tcId ${t.tcId} refused`,
        );
        tally.refusedZero++;
      } else {
        assert.equal(shared, t.shared, `tcId ${t.tcId}`);
        tally.agreed++;
      }
    }
    assert.deepEqual(tally, { agreed: 487, refusedZero: 31 });
  });
});
