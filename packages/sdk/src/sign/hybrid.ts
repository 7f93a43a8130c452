import { createHash, type KeyObject } from "node:crypto";
import {
  algorithmOfKey,
  CLASSICAL_ALGORITHMS,
  type ClassicalAlgorithm,
  isMlDsa,
  type MlDsaAlgorithm,
  spkiOf,
} from "./algorithms.ts";
import { SignatureUsageError, type Signer, verify } from "./signature.ts";

/**
 * Hybrid signatures: a classical (ECDSA P-256 or Ed25519) and an ML-DSA signature over the same
 * bytes, accepted only when BOTH verify, so the signature holds while either algorithm does. The
 * signed bytes bind both algorithms and both keys' SPKI digests ahead of the message, so neither
 * half can be lifted into a pairing with another key (the same binding as release signatures,
 * docs/signatures.md). Release signing (`release.ts`) and update metadata use this form.
 */
export interface HybridPublicKey {
  classical: KeyObject;
  postQuantum: KeyObject;
}

export interface HybridSigners {
  classical: Signer;
  postQuantum: Signer;
}

export interface HybridSignature {
  classical: Buffer;
  postQuantum: Buffer;
}

export type HybridVerifyResult = { ok: true } | { ok: false; failed: "classical" | "post-quantum" | "both" };

const LABEL = "bulwark-hybrid-signature-v1";

export const spkiSha256 = (spki: Uint8Array): string => createHash("sha256").update(spki).digest("hex");

/** The two algorithms of a hybrid public key, or a usage error if it is not classical + ML-DSA. */
export function hybridAlgorithms(key: HybridPublicKey): {
  classical: ClassicalAlgorithm;
  postQuantum: MlDsaAlgorithm;
} {
  const classical = algorithmOfKey(key.classical);
  const postQuantum = algorithmOfKey(key.postQuantum);
  if (!classical || !(CLASSICAL_ALGORITHMS as readonly string[]).includes(classical))
    throw new SignatureUsageError("the classical half must be an ECDSA P-256 or Ed25519 key");
  if (!postQuantum || !isMlDsa(postQuantum))
    throw new SignatureUsageError("the post-quantum half must be ML-DSA");
  return { classical: classical as ClassicalAlgorithm, postQuantum };
}

/** The bytes both halves sign: label, both algorithms with their key digests, then the message. */
export function hybridSignedBytes(key: HybridPublicKey, message: Uint8Array): Buffer {
  const algs = hybridAlgorithms(key);
  const header = [
    LABEL,
    `${algs.classical}:${spkiSha256(spkiOf(key.classical))}`,
    `${algs.postQuantum}:${spkiSha256(spkiOf(key.postQuantum))}`,
    "",
  ].join("\n");
  return Buffer.concat([Buffer.from(header, "utf8"), message]);
}

export function hybridSign(
  signers: HybridSigners,
  key: HybridPublicKey,
  message: Uint8Array,
): HybridSignature {
  const algs = hybridAlgorithms(key);
  if (signers.classical.algorithm !== algs.classical || signers.postQuantum.algorithm !== algs.postQuantum)
    throw new SignatureUsageError("the signers do not match the hybrid public key's algorithms");
  const bytes = hybridSignedBytes(key, message);
  return { classical: signers.classical.sign(bytes), postQuantum: signers.postQuantum.sign(bytes) };
}

/** Both halves must verify (AND): a verifier never accepts one alone. */
export function hybridVerify(
  key: HybridPublicKey,
  message: Uint8Array,
  signature: HybridSignature,
): HybridVerifyResult {
  const algs = hybridAlgorithms(key);
  const bytes = hybridSignedBytes(key, message);
  const classical = verify(algs.classical, key.classical, bytes, signature.classical);
  const postQuantum = verify(algs.postQuantum, key.postQuantum, bytes, signature.postQuantum);
  if (classical && postQuantum) return { ok: true };
  return { ok: false, failed: classical ? "post-quantum" : postQuantum ? "classical" : "both" };
}
