import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as noble from "@noble/post-quantum/slh-dsa.js";
import { hex, readKat } from "../../test/kat.ts";
import {
  type MlDsaAlgorithm,
  privateKeyFromRaw,
  publicKeyFromRaw,
  publicKeyFromSpki,
  type SignatureAlgorithm,
  type SlhDsaAlgorithm,
} from "./algorithms.ts";
import { sign, verify } from "./signature.ts";

// Known-answer tests against published vectors (packages/sdk/test/data/kat/README.md names each source).

interface WycheproofVerify {
  testGroups: {
    publicKey?: string | { pk?: string };
    publicKeyDer?: string;
    tests: { tcId: number; msg: string; ctx?: string; sig: string; result: "valid" | "invalid" }[];
  }[];
}

/** Runs a Wycheproof verification file; returns [checked, mismatches]. */
function runWycheproof(algorithm: SignatureAlgorithm, file: string): [number, string[]] {
  const kat = readKat<WycheproofVerify>(file);
  const wrong: string[] = [];
  let checked = 0;
  for (const group of kat.testGroups) {
    let key: ReturnType<typeof publicKeyFromSpki> | undefined;
    try {
      key =
        typeof group.publicKey === "string"
          ? publicKeyFromRaw(algorithm, hex(group.publicKey))
          : publicKeyFromSpki(hex(group.publicKeyDer!));
    } catch {
      key = undefined; // a malformed public key: every test in the group must then be invalid
    }
    for (const t of group.tests) {
      checked++;
      let ok = false;
      try {
        ok =
          key !== undefined &&
          verify(algorithm, key, hex(t.msg), hex(t.sig), { context: t.ctx ? hex(t.ctx) : undefined });
      } catch {
        ok = false; // e.g. a context string over 255 bytes
      }
      if (ok !== (t.result === "valid")) wrong.push(`tcId ${t.tcId}: expected ${t.result}`);
    }
  }
  return [checked, wrong];
}

describe("sign: Wycheproof verification vectors", () => {
  for (const [algorithm, file, count] of [
    ["ecdsa-p256", "wycheproof/ecdsa_secp256r1_sha256_test.json.gz", 484],
    ["ed25519", "wycheproof/ed25519_test.json.gz", 151],
    ["ml-dsa-65", "wycheproof/mldsa_65_verify_test.json.gz", 210],
  ] as const) {
    it(`${algorithm}: accepts every valid and rejects every invalid signature (${file})`, () => {
      const [checked, wrong] = runWycheproof(algorithm, file);
      assert.equal(checked, count);
      assert.deepEqual(wrong, []);
    });
  }
});

describe("sign: RFC 8032 §7.1 Ed25519 test vectors (deterministic signing)", () => {
  // TEST 1 and TEST 2 of RFC 8032 §7.1 (IETF Trust Legal Provisions): Ed25519 signing is
  // deterministic, so our signatures must equal the RFC's byte for byte.
  const vectors = [
    {
      secret: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
      public: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
      message: "",
      signature:
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    },
    {
      secret: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
      public: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
      message: "72",
      signature:
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    },
  ];
  it("derives the RFC's public keys and signs to the RFC's signatures", () => {
    for (const v of vectors) {
      const privateKey = privateKeyFromRaw("ed25519", hex(v.secret));
      assert.equal(sign("ed25519", privateKey, hex(v.message)).toString("hex"), v.signature);
      assert.equal(
        verify("ed25519", publicKeyFromRaw("ed25519", hex(v.public)), hex(v.message), hex(v.signature)),
        true,
      );
    }
  });
});

interface AcvpSigVer {
  testGroups: {
    parameterSet: string;
    signatureInterface: "external" | "internal";
    preHash: "pure" | "preHash" | "none";
    tests: {
      tcId: number;
      testPassed: boolean;
      pk: string;
      message?: string;
      context?: string;
      signature: string;
    }[];
  }[];
}

describe("sign: NIST ACVP ML-DSA sigVer (FIPS 204)", () => {
  it("verifies every pure external-interface case of ML-DSA-44/65/87 as NIST expects", () => {
    const kat = readKat<AcvpSigVer>("acvp/ML-DSA-sigVer-FIPS204/internalProjection.json.gz");
    // Bulwark signs with pure ML-DSA (FIPS 204 Algorithms 2-3; RFC 9881 for X.509). HashML-DSA and
    // the internal interface (Verify_internal on μ or M') are not offered by node:crypto nor used here.
    const pure = kat.testGroups.filter((g) => g.signatureInterface === "external" && g.preHash === "pure");
    assert.deepEqual(
      pure.map((g) => g.parameterSet),
      ["ML-DSA-44", "ML-DSA-65", "ML-DSA-87"],
    );
    let passed = 0;
    let failed = 0;
    for (const group of pure) {
      const algorithm = group.parameterSet.toLowerCase() as MlDsaAlgorithm;
      for (const t of group.tests) {
        const key = publicKeyFromRaw(algorithm, hex(t.pk));
        const ok = verify(algorithm, key, hex(t.message!), hex(t.signature), { context: hex(t.context!) });
        assert.equal(ok, t.testPassed, `${group.parameterSet} tcId ${t.tcId}`);
        if (ok) passed++;
        else failed++;
      }
    }
    // Positive control: both outcomes occur, so the check can fail either way.
    assert.equal(passed + failed, 45);
    assert.ok(passed > 0 && failed > 0);
  });
});

interface AcvpSlhKeyGen {
  testGroups: {
    parameterSet: string;
    tests: { tcId: number; skSeed: string; skPrf: string; pkSeed: string; sk: string; pk: string }[];
  }[];
}

const slhName = (parameterSet: string) => parameterSet.toLowerCase() as SlhDsaAlgorithm;
const nobleOf = (algorithm: SlhDsaAlgorithm) =>
  (noble as unknown as Record<string, typeof noble.slh_dsa_sha2_128s>)[algorithm.replaceAll("-", "_")]!;

describe("sign: NIST ACVP SLH-DSA keyGen (FIPS 205) and an independent implementation", () => {
  const kat = readKat<AcvpSlhKeyGen>("acvp/SLH-DSA-keyGen-FIPS205/internalProjection.json.gz");

  it("covers all 12 parameter sets", () => {
    assert.equal(kat.testGroups.length, 12);
  });

  for (const group of kat.testGroups) {
    const algorithm = slhName(group.parameterSet);
    // A signature made from the seeds verifies under NIST's expected public key only if the
    // hypertree built from SK.seed and PK.seed has NIST's root (FIPS 205 Algorithm 18 keygen).
    // "s" sets sign slowly (up to seconds), so those check their first two cases; "f" sets all ten.
    const cases = algorithm.endsWith("s") ? group.tests.slice(0, 2) : group.tests;
    it(`${algorithm}: keys from NIST's seeds sign for NIST's public key (${cases.length} cases)`, () => {
      for (const t of cases) {
        assert.equal(t.sk, `${t.skSeed}${t.skPrf}${t.pk}`, "sk = SK.seed ‖ SK.prf ‖ PK.seed ‖ PK.root");
        const signature = sign(algorithm, privateKeyFromRaw(algorithm, hex(t.sk)), Buffer.from("kat"));
        assert.equal(
          verify(algorithm, publicKeyFromRaw(algorithm, hex(t.pk)), Buffer.from("kat"), signature),
          true,
        );
        // Negative control: another root is refused.
        const otherRoot = hex(t.pk);
        otherRoot[otherRoot.length - 1]! ^= 1;
        assert.equal(
          verify(algorithm, publicKeyFromRaw(algorithm, otherRoot), Buffer.from("kat"), signature),
          false,
        );
      }
    });
  }

  for (const algorithm of ["slh-dsa-sha2-128s", "slh-dsa-shake-128f"] as SlhDsaAlgorithm[]) {
    it(`${algorithm}: node:crypto and @noble/post-quantum verify each other's signatures`, () => {
      const t = kat.testGroups.find((g) => slhName(g.parameterSet) === algorithm)!.tests[0]!;
      const other = nobleOf(algorithm);
      const message = Buffer.from("release 1.2.3");
      const context = Buffer.from("bulwark");
      // noble derives the same keys from the same seeds.
      const nobleKeys = other.keygen(hex(`${t.skSeed}${t.skPrf}${t.pkSeed}`));
      assert.equal(Buffer.from(nobleKeys.publicKey).toString("hex").toUpperCase(), t.pk);
      const ours = sign(algorithm, privateKeyFromRaw(algorithm, hex(t.sk)), message, { context });
      assert.equal(other.verify(ours, message, hex(t.pk), { context }), true);
      assert.equal(other.verify(ours, Buffer.from("release 1.2.4"), hex(t.pk), { context }), false);
      const theirs = other.sign(message, nobleKeys.secretKey, { context });
      const key = publicKeyFromRaw(algorithm, hex(t.pk));
      assert.equal(verify(algorithm, key, message, theirs, { context }), true);
      assert.equal(verify(algorithm, key, message, theirs), false, "the context is bound");
    });
  }
});
