import { createHash, type KeyObject } from "node:crypto";
import { canonicalBytes } from "../canonical.ts";
import { TufError } from "../errors.ts";
import { keyIdOf, tufKeyOf } from "../keys.ts";
import type { Envelope, Signed, TufKey, TufSignature } from "../metadata.ts";
import { signCanonical, verifyCanonical } from "../signatures.ts";
import { validateSigned } from "../validate.ts";

/**
 * Offline signing (TUF spec §6.1 "Key management and migration": root keys SHOULD be kept
 * offline). The repository exports a signing request; the key holder checks what it signs and
 * returns a detached signature (`bulwark tuf root sign-request` / `import-signature`).
 */
export const SIGNING_REQUEST_TYPE = "bulwark-tuf-signing-request/v1";

export interface SigningRequest {
  type: typeof SIGNING_REQUEST_TYPE;
  /** The metadata to sign, for the key holder to read. */
  signed: Signed;
  /** The exact bytes signed: base64 of the canonical JSON of `signed` (§4.1). */
  canonical: string;
  /** Hex SHA-256 of those bytes, to compare out of band with what the server shows. */
  sha256: string;
  /** The keys asked to sign, by key id (their schemes say how: §4.2.2, TAP 21). */
  keys: Record<string, TufKey>;
}

/** A detached signature coming back from a key holder: the TUF signature object (§4.2.1). */
export type DetachedSignature = TufSignature;

/** A signing request for `signed`, asking `keys` to sign. */
export function createSigningRequest(signed: Signed, keys: TufKey[]): SigningRequest {
  const canonical = canonicalBytes(signed);
  return {
    type: SIGNING_REQUEST_TYPE,
    signed,
    canonical: canonical.toString("base64"),
    sha256: createHash("sha256").update(canonical).digest("hex"),
    keys: Object.fromEntries(keys.map((key) => [keyIdOf(key), key])),
  };
}

/**
 * The key holder's side: check that the request's bytes are the canonical form of what it shows
 * (so nobody signs something other than what they read), then sign them with `privateKey`.
 */
export function signSigningRequest(request: SigningRequest, privateKey: KeyObject): DetachedSignature {
  const canonical = requestBytes(request);
  const key = tufKeyOf(privateKey);
  const keyid = keyIdOf(key);
  if (!Object.hasOwn(request.keys, keyid)) {
    throw new TufError("TUF_SIGNING_REQUEST", `key ${keyid} is not asked to sign this request`);
  }
  return { keyid, sig: signCanonical(privateKey, key, canonical) };
}

/**
 * Add a detached signature to `envelope` after verifying it over the canonical form of
 * `envelope.signed` with the key `keys[keyid]`; a bad, unknown or repeated signature is refused.
 */
export function importSignature<T extends Signed>(
  envelope: Envelope<T>,
  signature: DetachedSignature,
  keys: Record<string, TufKey>,
): Envelope<T> {
  const key = Object.hasOwn(keys, signature.keyid) ? keys[signature.keyid] : undefined;
  if (!key) throw new TufError("TUF_SIGNING_REQUEST", `key ${signature.keyid} may not sign this metadata`);
  if (envelope.signatures.some((s) => s.keyid === signature.keyid)) {
    throw new TufError("TUF_SIGNING_REQUEST", `key ${signature.keyid} has already signed`);
  }
  if (verifyCanonical(key, canonicalBytes(envelope.signed), signature.sig) !== "valid") {
    throw new TufError("TUF_SIGNING_REQUEST", `the signature of key ${signature.keyid} does not verify`);
  }
  return {
    signed: envelope.signed,
    signatures: [...envelope.signatures, { keyid: signature.keyid, sig: signature.sig }],
  };
}

/** The request's canonical bytes, checked against its `signed` object and its SHA-256. */
function requestBytes(request: SigningRequest): Buffer {
  if (request.type !== SIGNING_REQUEST_TYPE)
    throw new TufError("TUF_SIGNING_REQUEST", "not a Bulwark TUF signing request");
  validateSigned(request.signed, request.signed?._type);
  const canonical = Buffer.from(request.canonical, "base64");
  if (!canonical.equals(canonicalBytes(request.signed))) {
    throw new TufError(
      "TUF_SIGNING_REQUEST",
      "the bytes to sign are not the canonical form of the metadata shown",
    );
  }
  if (createHash("sha256").update(canonical).digest("hex") !== request.sha256) {
    throw new TufError("TUF_SIGNING_REQUEST", "the request's SHA-256 does not match its bytes");
  }
  return canonical;
}
