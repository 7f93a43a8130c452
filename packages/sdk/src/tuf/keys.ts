import { createHash, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { canonicalBytes } from "./canonical.ts";
import { TufError } from "./errors.ts";
import type { TufKey } from "./metadata.ts";

/**
 * The two key families Bulwark signs TUF metadata with:
 * - `ecdsa`: keytype "ecdsa", scheme "ecdsa-sha2-nistp256", public key PEM (TUF spec §4.2.2,
 *   named as python-tuf/securesystemslib and tuf-js name it);
 * - `ml-dsa`: keytype "ml-dsa", scheme "ml-dsa-65/1", public key PEM SubjectPublicKeyInfo
 *   (TAP 21, ML-DSA signing scheme for TUF metadata; securesystemslib and go-tuf use these names).
 */
export type KeyFamily = "ecdsa" | "ml-dsa";

export const ECDSA_KEYTYPE = "ecdsa";
export const ECDSA_SCHEME = "ecdsa-sha2-nistp256";
export const MLDSA_KEYTYPE = "ml-dsa";
export const MLDSA65_SCHEME = "ml-dsa-65/1";

/** The family of a TUF key this library can verify, or undefined for any other key type or scheme. */
export function keyFamily(key: TufKey): KeyFamily | undefined {
  if (key.keytype === ECDSA_KEYTYPE && key.scheme === ECDSA_SCHEME) return "ecdsa";
  if (key.keytype === MLDSA_KEYTYPE && key.scheme === MLDSA65_SCHEME) return "ml-dsa";
  return undefined;
}

/** TUF spec §4.2.1 KEYID: hex SHA-256 of the canonical JSON of the key object. */
export function keyIdOf(key: TufKey): string {
  const { keytype, scheme, keyval } = key;
  return createHash("sha256")
    .update(canonicalBytes({ keytype, scheme, keyval: { public: keyval.public } }))
    .digest("hex");
}

/** The TUF key object of a node:crypto public (or private) key of one of our two families. */
export function tufKeyOf(key: KeyObject): TufKey {
  const publicKey = key.type === "private" ? createPublicKey(key) : key;
  const pem = publicKey.export({ type: "spki", format: "pem" }).toString();
  if (publicKey.asymmetricKeyType === "ec" && publicKey.asymmetricKeyDetails?.namedCurve === "prime256v1") {
    return { keytype: ECDSA_KEYTYPE, scheme: ECDSA_SCHEME, keyval: { public: pem } };
  }
  if (publicKey.asymmetricKeyType === "ml-dsa-65") {
    return { keytype: MLDSA_KEYTYPE, scheme: MLDSA65_SCHEME, keyval: { public: pem } };
  }
  throw new TufError("TUF_UNSUPPORTED_KEY", `unsupported key ${publicKey.asymmetricKeyType ?? "?"}`);
}

/**
 * The node:crypto public key of a TUF key, checked against its declared family (an "ecdsa" key
 * must be a P-256 point, an "ml-dsa-65/1" key an ML-DSA-65 key); throws for anything else.
 */
export function publicKeyOf(key: TufKey): KeyObject {
  const family = keyFamily(key);
  if (!family) throw new TufError("TUF_UNSUPPORTED_KEY", `unsupported key ${key.keytype}/${key.scheme}`);
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: key.keyval.public, format: "pem" });
  } catch (cause) {
    throw new TufError("TUF_MALFORMED", `the ${family} public key is not PEM`, { cause });
  }
  const fits =
    family === "ecdsa"
      ? publicKey.asymmetricKeyType === "ec" && publicKey.asymmetricKeyDetails?.namedCurve === "prime256v1"
      : publicKey.asymmetricKeyType === "ml-dsa-65";
  if (!fits)
    throw new TufError("TUF_MALFORMED", `the public key is not of its declared scheme ${key.scheme}`);
  return publicKey;
}

/** A fresh key pair of one family (ECDSA P-256 or ML-DSA-65), from node:crypto. */
export function generateKeyPair(family: KeyFamily): { privateKey: KeyObject; key: TufKey; keyid: string } {
  const { privateKey, publicKey } =
    family === "ecdsa"
      ? generateKeyPairSync("ec", { namedCurve: "P-256" })
      : generateKeyPairSync("ml-dsa-65");
  const key = tufKeyOf(publicKey);
  return { privateKey, key, keyid: keyIdOf(key) };
}
