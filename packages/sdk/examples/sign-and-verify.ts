/**
 * Signatures through one interface, and the hybrid form release signing and updates use.
 * Run: node packages/sdk/examples/sign-and-verify.ts
 */
import {
  generateSigningKeyPair,
  hybridSign,
  hybridVerify,
  keySigner,
  publicKeyFromSpki,
  SIGNATURE_ALGORITHMS,
  sign,
  spkiOf,
  verify,
} from "@bulwark/sdk/sign";

const message = Buffer.from("firmware 2.4.1");

// One algorithm at a time: the same two calls for ECDSA P-256, Ed25519, ML-DSA and SLH-DSA.
for (const algorithm of ["ecdsa-p256", "ed25519", "ml-dsa-65", "slh-dsa-sha2-128f"] as const) {
  const { privateKey, publicKey } = generateSigningKeyPair(algorithm);
  const signature = sign(algorithm, privateKey, message);
  // Keys travel as SubjectPublicKeyInfo DER.
  const received = publicKeyFromSpki(spkiOf(publicKey));
  if (!verify(algorithm, received, message, signature)) throw new Error(`${algorithm} did not verify`);
  console.log(`${algorithm}: ${signature.length}-byte signature verified`);
}
console.log(`${SIGNATURE_ALGORITHMS.length} algorithms available`);

// Hybrid: ECDSA P-256 + ML-DSA-65, accepted only when both verify.
const classical = generateSigningKeyPair("ecdsa-p256");
const postQuantum = generateSigningKeyPair("ml-dsa-65");
const key = { classical: classical.publicKey, postQuantum: postQuantum.publicKey };
const signers = {
  classical: keySigner("ecdsa-p256", classical.privateKey),
  postQuantum: keySigner("ml-dsa-65", postQuantum.privateKey),
};
const hybrid = hybridSign(signers, key, message);
const result = hybridVerify(key, message, hybrid);
if (!result.ok) throw new Error("the hybrid signature did not verify");
console.log("hybrid ecdsa-p256 + ml-dsa-65: both halves verified");
