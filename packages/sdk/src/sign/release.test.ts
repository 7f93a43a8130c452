import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { generateSigningKeyPair, spkiOf } from "./algorithms.ts";
import { digestFile, publicKeysPem, signRelease, spkiSha256, verifyDetached } from "./release.ts";
import { keySigner } from "./signature.ts";

const fixture = (name: string) => new URL(`../../test/data/release-signature-v1/${name}`, import.meta.url);

describe("sign: detached release signatures (docs/signatures.md)", () => {
  it("still verifies a signature made by the code before /sign (format unchanged)", async () => {
    const artifact = await digestFile(fixture("firmware-1.0.0.bin").pathname, "firmware-1.0.0.bin");
    const signature = readFileSync(fixture("firmware-1.0.0.bin.sig.json"), "utf8");
    const pem = readFileSync(fixture("public.pem"), "utf8");
    assert.equal(verifyDetached(signature, artifact, pem).ok, true);
    // Negative control: one flipped signature bit is caught.
    const doc = JSON.parse(signature);
    const value = Buffer.from(doc.signatures[1].value, "base64");
    value[100]! ^= 1;
    doc.signatures[1].value = value.toString("base64");
    assert.deepEqual(verifyDetached(JSON.stringify(doc), artifact, pem), {
      ok: false,
      reason: "signature-invalid",
      detail: "the ml-dsa-65 signature does not verify",
    });
  });

  it("signRelease produces a document verifyDetached accepts, and both halves are required", async () => {
    const ecdsa = generateSigningKeyPair("ecdsa-p256");
    const mldsa = generateSigningKeyPair("ml-dsa-65");
    const artifact = { name: "gw.bin", size: 3, sha256: "a".repeat(64), sha512: "b".repeat(128) };
    const doc = signRelease(artifact, "key-1", {
      "ecdsa-p256": {
        signer: keySigner("ecdsa-p256", ecdsa.privateKey),
        keyId: "c1",
        publicKeySha256: spkiSha256(spkiOf(ecdsa.publicKey)),
      },
      "ml-dsa-65": {
        signer: keySigner("ml-dsa-65", mldsa.privateKey),
        keyId: "c2",
        publicKeySha256: spkiSha256(spkiOf(mldsa.publicKey)),
      },
    });
    const pem = publicKeysPem([spkiOf(ecdsa.publicKey), spkiOf(mldsa.publicKey)]);
    assert.equal(verifyDetached(JSON.stringify(doc), artifact, pem).ok, true);
    const onlyEcdsa = { ...doc, signatures: doc.signatures.slice(0, 1) };
    assert.deepEqual(verifyDetached(JSON.stringify(onlyEcdsa), artifact, pem), {
      ok: false,
      reason: "signature-invalid",
      detail: "the ml-dsa-65 signature is missing",
    });
  });
});
