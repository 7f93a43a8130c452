/**
 * A detached release signature (docs/signatures.md): sign an artifact's digests with both halves
 * of a hybrid key and verify with nothing but the public keys, as a device or CI does.
 * Run: node packages/sdk/examples/release-signature.ts
 */
import { createHash } from "node:crypto";
import {
  generateSigningKeyPair,
  keySigner,
  publicKeysPem,
  signRelease,
  spkiOf,
  spkiSha256,
  verifyDetached,
} from "@bulwark/sdk/sign";

const firmware = Buffer.from("pretend this is a firmware image");
const artifact = {
  name: "gateway-2.4.1.bin",
  size: firmware.length,
  sha256: createHash("sha256").update(firmware).digest("hex"),
  sha512: createHash("sha512").update(firmware).digest("hex"),
};

const ecdsa = generateSigningKeyPair("ecdsa-p256");
const mldsa = generateSigningKeyPair("ml-dsa-65");
const signature = signRelease(artifact, "example-signing-key", {
  "ecdsa-p256": {
    signer: keySigner("ecdsa-p256", ecdsa.privateKey),
    keyId: "ecdsa",
    publicKeySha256: spkiSha256(spkiOf(ecdsa.publicKey)),
  },
  "ml-dsa-65": {
    signer: keySigner("ml-dsa-65", mldsa.privateKey),
    keyId: "mldsa",
    publicKeySha256: spkiSha256(spkiOf(mldsa.publicKey)),
  },
});

// What the verifier has: the signature document and the PEM with both public keys.
const pem = publicKeysPem([spkiOf(ecdsa.publicKey), spkiOf(mldsa.publicKey)]);
const result = verifyDetached(JSON.stringify(signature), artifact, pem);
if (!result.ok) throw new Error(`release signature refused: ${result.reason}`);
console.log(
  `${artifact.name}: release signature verified (${signature.signatures.map((s) => s.algorithm).join(" + ")})`,
);

const tampered = { ...artifact, sha256: "0".repeat(64) };
const refused = verifyDetached(JSON.stringify(signature), tampered, pem);
console.log(`a changed artifact is refused: ${refused.ok ? "NO" : refused.reason}`);
if (refused.ok) process.exit(1);
