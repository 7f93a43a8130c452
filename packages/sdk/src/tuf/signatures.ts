import { createHash, type KeyObject, sign, verify } from "node:crypto";
import { canonicalBytes } from "./canonical.ts";
import { TufError } from "./errors.ts";
import { keyFamily, keyIdOf, publicKeyOf, tufKeyOf } from "./keys.ts";
import type { Envelope, Signed, TufKey, TufSignature } from "./metadata.ts";

/** "tuf", the domain prefix of TAP 21's pre-signing byte string. */
const TAP21_DOMAIN = Buffer.from("tuf", "ascii");

/**
 * The bytes a key signs for metadata whose canonical form is `canonical`.
 * - ecdsa-sha2-nistp256 (TUF spec §4.2.2): the canonical bytes themselves, hashed with SHA-256
 *   by the ECDSA signature;
 * - ml-dsa-65/1 (TAP 21 "Signature generation"): 0x74 0x75 0x66 ("tuf") ‖ version ‖ H(MSG),
 *   where version is the number after "/" in the scheme (1) as one byte and H is SHA-512 for
 *   version 1; the result is signed with pure ML-DSA and an empty context.
 */
export function signingMessage(key: TufKey, canonical: Buffer): Buffer {
  switch (keyFamily(key)) {
    case "ecdsa":
      return canonical;
    case "ml-dsa": {
      const version = Number(key.scheme.split("/")[1]);
      const digest = createHash("sha512").update(canonical).digest();
      return Buffer.concat([TAP21_DOMAIN, Buffer.of(version), digest]);
    }
    default:
      throw new TufError("TUF_UNSUPPORTED_KEY", `unsupported key ${key.keytype}/${key.scheme}`);
  }
}

/** Sign `canonical` with a private key of our two families; returns the TUF hex signature. */
export function signCanonical(privateKey: KeyObject, key: TufKey, canonical: Buffer): string {
  const message = signingMessage(key, canonical);
  // §4.2.2 ecdsa-sha2-nistp256: SHA-256, signature DER-encoded (as securesystemslib and tuf-js).
  const signature =
    keyFamily(key) === "ecdsa"
      ? sign("sha256", message, { key: privateKey, dsaEncoding: "der" })
      : sign(null, message, privateKey);
  return signature.toString("hex");
}

/** Whether `sigHex` is a valid signature by `key` over `canonical`; "unsupported" for other key types. */
export function verifyCanonical(
  key: TufKey,
  canonical: Buffer,
  sigHex: string,
): "valid" | "invalid" | "unsupported" {
  const family = keyFamily(key);
  if (!family) return "unsupported";
  if (!/^(?:[0-9a-f]{2})+$/.test(sigHex)) return "invalid";
  try {
    const publicKey = publicKeyOf(key);
    const message = signingMessage(key, canonical);
    const signature = Buffer.from(sigHex, "hex");
    const ok =
      family === "ecdsa"
        ? verify("sha256", message, { key: publicKey, dsaEncoding: "der" }, signature)
        : verify(null, message, publicKey, signature);
    return ok ? "valid" : "invalid";
  } catch {
    return "invalid";
  }
}

/**
 * Something that signs TUF metadata with one key: an in-process key, or a wrapper over an HSM,
 * a KMS or an offline ceremony. `sign` gets the canonical bytes and applies the key's scheme.
 */
export interface TufSigner {
  readonly key: TufKey;
  readonly keyid: string;
  sign(canonical: Buffer): Promise<string>;
}

/** A signer over a node:crypto private key held in this process. */
export function localSigner(privateKey: KeyObject): TufSigner {
  const key = tufKeyOf(privateKey);
  return {
    key,
    keyid: keyIdOf(key),
    sign: async (canonical) => signCanonical(privateKey, key, canonical),
  };
}

/** Sign `signed` with each signer (TUF spec §4.2.1: one signature per key id). */
export async function signMetadata<T extends Signed>(signed: T, signers: TufSigner[]): Promise<Envelope<T>> {
  const canonical = canonicalBytes(signed);
  const seen = new Set<string>();
  const signatures: TufSignature[] = [];
  for (const signer of signers) {
    if (seen.has(signer.keyid)) continue;
    seen.add(signer.keyid);
    signatures.push({ keyid: signer.keyid, sig: await signer.sign(canonical) });
  }
  return { signed, signatures };
}
