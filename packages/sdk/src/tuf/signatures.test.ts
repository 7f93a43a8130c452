import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, verify } from "node:crypto";
import { describe, it } from "node:test";
import { canonicalBytes } from "./canonical.ts";
import { isTufError } from "./errors.ts";
import { generateKeyPair, keyIdOf, publicKeyOf, tufKeyOf } from "./keys.ts";
import { localSigner, signCanonical, signingMessage, signMetadata, verifyCanonical } from "./signatures.ts";
import { countSignatures, meetsThreshold } from "./threshold.ts";

describe("canonical JSON (TUF spec §4.1, OLPC canonical JSON)", () => {
  it("sorts keys, drops whitespace and escapes only the quote and the backslash", () => {
    const bytes = canonicalBytes({ b: [1, true, null], a: 'q"b\\s\nü' });
    assert.equal(bytes.toString("utf8"), '{"a":"q\\"b\\\\s\nü","b":[1,true,null]}');
    assert.equal(bytes.length, Buffer.byteLength('{"a":"q\\"b\\\\s\nü","b":[1,true,null]}', "utf8"));
  });

  it("refuses object keys beyond U+FFFF, whose order differs between JavaScript and Python", () => {
    assert.throws(
      () => canonicalBytes({ "fw-\u{1F600}.bin": 1 }),
      (e) => isTufError(e, "TUF_MALFORMED"),
    );
    assert.equal(
      canonicalBytes({ "fw-\u00e9.bin": "\u{1F600}" }).toString(),
      '{"fw-\u00e9.bin":"\u{1F600}"}',
    );
  });

  it("refuses floats, non-finite numbers, undefined and non-plain objects", () => {
    for (const bad of [{ x: 1.5 }, { x: Number.NaN }, { x: undefined }, { x: new Date(0) }, [2 ** 60]]) {
      assert.throws(
        () => canonicalBytes(bad),
        (e) => isTufError(e, "TUF_MALFORMED"),
      );
    }
  });
});

describe("key ids (TUF spec §4.2.1 KEYID)", () => {
  it("is the SHA-256 of the canonical key: the specification's own example key ids", () => {
    const key = (pub: string) => ({ keytype: "ed25519", scheme: "ed25519", keyval: { public: pub } });
    assert.equal(
      keyIdOf(key("66dd78c5c2a78abc6fc6b267ff1a8017ba0e8bfc853dd97af351949bba021275")),
      "cb3fbd83df4ba2471a736b065650878280964a98843ec13b457a99b2a21cc3b4",
    );
    assert.equal(
      keyIdOf(key("72378e5bc588793e58f81c8533da64a2e8f1565c1fcc7f253496394ffc52542c")),
      "1bf1c6e3cdd3d3a8420b19199e27511999850f4b376c4547b2f32fba7e80fca3",
    );
  });
});

describe("ECDSA P-256 signatures (ecdsa / ecdsa-sha2-nistp256)", () => {
  it("is a hex DER ECDSA-SHA256 signature over the canonical bytes", () => {
    const { privateKey, key } = generateKeyPair("ecdsa");
    assert.deepEqual([key.keytype, key.scheme], ["ecdsa", "ecdsa-sha2-nistp256"]);
    assert.match(key.keyval.public, /^-----BEGIN PUBLIC KEY-----\n/);
    const canonical = canonicalBytes({ _type: "timestamp", version: 1 });
    const sig = signCanonical(privateKey, key, canonical);
    assert.equal(Buffer.from(sig, "hex")[0], 0x30, "DER SEQUENCE");
    assert.ok(verify("sha256", canonical, publicKeyOf(key), Buffer.from(sig, "hex")));
    assert.equal(verifyCanonical(key, canonical, sig), "valid");
    assert.equal(verifyCanonical(key, canonicalBytes({ _type: "timestamp", version: 2 }), sig), "invalid");
    assert.equal(verifyCanonical(key, canonical, "zz"), "invalid");
  });
});

describe("ML-DSA-65 signatures (TAP 21: keytype ml-dsa, scheme ml-dsa-65/1)", () => {
  it("signs 'tuf' ‖ 0x01 ‖ SHA-512(canonical) with pure ML-DSA-65 and an empty context", () => {
    const { privateKey, key } = generateKeyPair("ml-dsa");
    assert.deepEqual([key.keytype, key.scheme], ["ml-dsa", "ml-dsa-65/1"]);
    assert.match(key.keyval.public, /^-----BEGIN PUBLIC KEY-----\n/);
    const canonical = canonicalBytes({ _type: "root", version: 3 });
    const expected = Buffer.concat([
      Buffer.from([0x74, 0x75, 0x66, 0x01]),
      createHash("sha512").update(canonical).digest(),
    ]);
    assert.deepEqual(signingMessage(key, canonical), expected);
    const sig = Buffer.from(signCanonical(privateKey, key, canonical), "hex");
    assert.equal(sig.length, 3309, "ML-DSA-65 signature size (FIPS 204)");
    // Checked with node:crypto directly: over the TAP 21 message, not over the canonical bytes.
    assert.ok(verify(null, expected, publicKeyOf(key), sig));
    assert.ok(!verify(null, canonical, publicKeyOf(key), sig));
    assert.equal(verifyCanonical(key, canonical, sig.toString("hex")), "valid");
    assert.equal(
      verifyCanonical(key, canonicalBytes({ _type: "root", version: 4 }), sig.toString("hex")),
      "invalid",
    );
  });

  it("refuses a public key that is not of its declared scheme, and keys of other types", () => {
    const ecdsa = generateKeyPair("ecdsa").key;
    const posing = { ...ecdsa, keytype: "ml-dsa", scheme: "ml-dsa-65/1" };
    assert.throws(
      () => publicKeyOf(posing),
      (e) => isTufError(e, "TUF_MALFORMED"),
    );
    const p256 = tufKeyOf(generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey);
    const other = generateKeyPairSync("ec", { namedCurve: "P-384" }).publicKey.export({
      type: "spki",
      format: "pem",
    });
    assert.throws(
      () => publicKeyOf({ ...p256, keyval: { public: other.toString() } }),
      (e) => isTufError(e, "TUF_MALFORMED"),
    );
    assert.throws(
      () => tufKeyOf(generateKeyPairSync("ed25519").privateKey),
      (e) => isTufError(e, "TUF_UNSUPPORTED_KEY"),
    );
    assert.equal(
      verifyCanonical(
        { keytype: "ed25519", scheme: "ed25519", keyval: { public: "00" } },
        Buffer.from("x"),
        "00",
      ),
      "unsupported",
    );
  });
});

describe("threshold counting (TUF spec §5.3.4) and the two policies", () => {
  it("counts each key once, only keys of the role, and each family apart", async () => {
    const e1 = generateKeyPair("ecdsa");
    const e2 = generateKeyPair("ecdsa");
    const m1 = generateKeyPair("ml-dsa");
    const outsider = generateKeyPair("ecdsa");
    const signed = {
      _type: "timestamp" as const,
      spec_version: "1.0.31",
      version: 1,
      expires: "2030-01-01T00:00:00Z",
      meta: { "snapshot.json": { version: 1 } },
    };
    const envelope = await signMetadata(
      signed,
      [e1, e2, m1, outsider].map((k) => localSigner(k.privateKey)),
    );
    // e1 is listed under a second key id too (TAP 12 allows any key id): its signature counts once.
    const alias = "a".repeat(64);
    envelope.signatures.push({ keyid: alias, sig: envelope.signatures[0]!.sig });
    const keys = {
      [e1.keyid]: e1.key,
      [alias]: e1.key,
      [e2.keyid]: e2.key,
      [m1.keyid]: m1.key,
      [outsider.keyid]: outsider.key,
    };
    const role = { keyids: [e1.keyid, alias, e2.keyid, m1.keyid], threshold: 2 };
    const count = countSignatures(envelope, role, keys);
    assert.deepEqual(count, { ecdsa: 2, "ml-dsa": 1 });
    assert.equal(meetsThreshold(count, 2, "classical"), true);
    assert.equal(meetsThreshold(count, 2, "hybrid"), false);
    assert.equal(meetsThreshold(count, 1, "hybrid"), true);
    const withoutE2 = { ...role, keyids: [e1.keyid, alias, m1.keyid] };
    assert.deepEqual(countSignatures(envelope, withoutE2, keys), { ecdsa: 1, "ml-dsa": 1 });
  });
});
