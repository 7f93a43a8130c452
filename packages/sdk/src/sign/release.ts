import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { fromPemAll, toPem } from "../pem.ts";
import { algorithmOfKey, publicKeyFromSpki, type SignatureAlgorithm } from "./algorithms.ts";
import { spkiSha256 } from "./hybrid.ts";
import { type Signer, verify } from "./signature.ts";

export { spkiSha256 };

/**
 * Bulwark detached release signatures (docs/signatures.md): a JSON document binding an artifact's
 * SHA-256 and SHA-512 digests to BOTH an ECDSA P-256 and an ML-DSA-65 signature. A verifier needs
 * only the two public keys, and both signatures must verify (hybrid: secure while either holds).
 */
export const HYBRID_ALGORITHMS = ["ecdsa-p256", "ml-dsa-65"] as const satisfies readonly SignatureAlgorithm[];
export type HybridAlgorithm = (typeof HYBRID_ALGORITHMS)[number];

export interface ArtifactDigest {
  name: string;
  size: number;
  sha256: string;
  sha512: string;
}

export interface SignatureEntry {
  algorithm: HybridAlgorithm;
  /** The custody key id on the signing server (informational). */
  keyId: string;
  /** SHA-256 of the public key's SubjectPublicKeyInfo DER, hex. */
  publicKeySha256: string;
  /** base64 signature: ECDSA as DER (RFC 3279 §2.2.3), ML-DSA raw (FIPS 204). */
  value: string;
}

export interface DetachedSignature {
  bulwarkSignature: 1;
  artifact: ArtifactDigest;
  signedAt: string;
  signingKey: string;
  signatures: SignatureEntry[];
}

export type VerifyFailure =
  | "malformed-signature"
  | "malformed-key"
  | "missing-key"
  | "digest-mismatch"
  | "key-mismatch"
  | "signature-invalid";

export type VerifyResult =
  | { ok: true; signature: DetachedSignature }
  | { ok: false; reason: VerifyFailure; detail: string };

/** The exact bytes both algorithms sign: a versioned line format, so no JSON canonicalisation is needed. */
export function signedMessage(
  artifact: ArtifactDigest,
  signedAt: string,
  signingKey: string,
  keyDigests: Record<HybridAlgorithm, string>,
): Buffer {
  const lines = [
    "bulwark-signature-v1",
    `artifact-name:${JSON.stringify(artifact.name)}`,
    `artifact-size:${artifact.size}`,
    `sha256:${artifact.sha256}`,
    `sha512:${artifact.sha512}`,
    `signed-at:${signedAt}`,
    `signing-key:${signingKey}`,
    ...HYBRID_ALGORITHMS.map((a) => `${a}:${keyDigests[a]}`),
  ];
  return Buffer.from(`${lines.join("\n")}\n`, "utf8");
}

/** SHA-256 and SHA-512 of a file, streamed. */
export async function digestFile(path: string, name: string): Promise<ArtifactDigest> {
  const h256 = createHash("sha256");
  const h512 = createHash("sha512");
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    const b = chunk as Buffer;
    size += b.length;
    h256.update(b);
    h512.update(b);
  }
  return { name, size, sha256: h256.digest("hex"), sha512: h512.digest("hex") };
}

const HEX = (n: number) => new RegExp(`^[0-9a-f]{${n}}$`);

/** Strictly reads a signature document; undefined if any field is missing or mistyped. */
export function parseDetachedSignature(text: string): DetachedSignature | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  const d = doc as Partial<DetachedSignature> | null;
  const a = d?.artifact;
  if (d?.bulwarkSignature !== 1 || typeof a !== "object" || a === null) return undefined;
  if (typeof a.name !== "string" || !Number.isSafeInteger(a.size) || a.size < 0) return undefined;
  if (!HEX(64).test(String(a.sha256)) || !HEX(128).test(String(a.sha512))) return undefined;
  if (typeof d.signedAt !== "string" || typeof d.signingKey !== "string" || !Array.isArray(d.signatures))
    return undefined;
  for (const s of d.signatures as unknown[]) {
    const e = s as Partial<SignatureEntry> | null;
    if (!e || !(HYBRID_ALGORITHMS as readonly string[]).includes(String(e.algorithm))) return undefined;
    if (typeof e.keyId !== "string" || !HEX(64).test(String(e.publicKeySha256))) return undefined;
    if (typeof e.value !== "string" || !/^[A-Za-z0-9+/]+=*$/.test(e.value)) return undefined;
  }
  return d as DetachedSignature;
}

/** Reads the public keys (PEM `PUBLIC KEY` blocks, SPKI) by algorithm. */
export function readPublicKeys(pem: string): Map<SignatureAlgorithm, Buffer> | undefined {
  const out = new Map<SignatureAlgorithm, Buffer>();
  try {
    for (const der of fromPemAll("PUBLIC KEY", pem)) {
      const alg = algorithmOfKey(publicKeyFromSpki(der));
      if (alg === undefined) return undefined;
      out.set(alg, der);
    }
  } catch {
    return undefined;
  }
  return out;
}

export const publicKeysPem = (spkis: readonly Uint8Array[]): string =>
  spkis.map((s) => toPem("PUBLIC KEY", s)).join("");

const fail = (reason: VerifyFailure, detail: string): VerifyResult => ({ ok: false, reason, detail });

/** Verifies a detached signature over an artifact's digest with nothing but the public keys. */
export function verifyDetached(
  signatureText: string,
  artifact: ArtifactDigest,
  publicKeyPem: string,
): VerifyResult {
  const sig = parseDetachedSignature(signatureText);
  if (!sig) return fail("malformed-signature", "the signature file is not a Bulwark signature document");
  const keys = readPublicKeys(publicKeyPem);
  if (!keys) return fail("malformed-key", "the key file holds no usable PEM public keys");
  // Digests first: a signature over another artifact fails here, whatever the keys.
  if (
    sig.artifact.sha256 !== artifact.sha256 ||
    sig.artifact.sha512 !== artifact.sha512 ||
    sig.artifact.size !== artifact.size
  )
    return fail("digest-mismatch", "the artifact's SHA-256/SHA-512 digests do not match the signature");
  const digests = {} as Record<HybridAlgorithm, string>;
  for (const alg of HYBRID_ALGORITHMS) {
    const spki = keys.get(alg);
    if (!spki) return fail("missing-key", `no ${alg} public key given`);
    digests[alg] = spkiSha256(spki);
  }
  const message = signedMessage(sig.artifact, sig.signedAt, sig.signingKey, digests);
  // Hybrid rule: BOTH algorithms must be present, made by the given keys, and verify.
  for (const alg of HYBRID_ALGORITHMS) {
    const entry = sig.signatures.find((s) => s.algorithm === alg);
    if (!entry) return fail("signature-invalid", `the ${alg} signature is missing`);
    if (entry.publicKeySha256 !== digests[alg])
      return fail("key-mismatch", `the ${alg} signature was made by another key`);
  }
  for (const alg of HYBRID_ALGORITHMS) {
    const entry = sig.signatures.find((s) => s.algorithm === alg)!;
    const key = publicKeyFromSpki(keys.get(alg)!);
    if (!verify(alg, key, message, Buffer.from(entry.value, "base64")))
      return fail("signature-invalid", `the ${alg} signature does not verify`);
  }
  return { ok: true, signature: sig };
}

/** One half of a release signing key: who signs, under which custody id, and its SPKI digest. */
export interface ReleaseSigner {
  signer: Signer;
  keyId: string;
  publicKeySha256: string;
}

/**
 * Builds a detached release signature with both halves of a hybrid signing key (custody keys on the
 * server, `keySigner` elsewhere). The server's `signArtifact` produces the same document.
 */
export function signRelease(
  artifact: ArtifactDigest,
  signingKey: string,
  signers: Record<HybridAlgorithm, ReleaseSigner>,
  signedAt: string = new Date().toISOString(),
): DetachedSignature {
  const digests = {
    "ecdsa-p256": signers["ecdsa-p256"].publicKeySha256,
    "ml-dsa-65": signers["ml-dsa-65"].publicKeySha256,
  };
  const message = signedMessage(artifact, signedAt, signingKey, digests);
  const signatures = HYBRID_ALGORITHMS.map((algorithm): SignatureEntry => {
    const { signer, keyId, publicKeySha256 } = signers[algorithm];
    if (signer.algorithm !== algorithm)
      throw new Error(`the ${algorithm} signer holds a ${signer.algorithm} key`);
    return { algorithm, keyId, publicKeySha256, value: signer.sign(message).toString("base64") };
  });
  return { bulwarkSignature: 1, artifact, signedAt, signingKey, signatures };
}
