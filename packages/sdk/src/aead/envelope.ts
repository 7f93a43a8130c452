import { randomBytes } from "node:crypto";
import { AES_256_GCM, AuthenticationError, gcmDecrypt, gcmEncrypt } from "../primitives/aes-256-gcm.ts";

/**
 * Symmetric envelopes: AES-256-GCM with associated data under a key both sides hold.
 *
 *     envelope = version (0x01) ‖ IV (12, random) ‖ ciphertext ‖ tag (16)
 *
 * The GCM associated data is the version byte followed by the caller's `aad`, so the format version
 * is authenticated too. A random 96-bit IV keeps the collision chance under 2^-32 for up to 2^32
 * envelopes per key (NIST SP 800-38D §8.3); rotate keys well before that.
 */
export const ENVELOPE_VERSION = 0x01;
const HEADER = 1 + AES_256_GCM.ivBytes;

export { AuthenticationError };

export class EnvelopeFormatError extends Error {
  override name = "EnvelopeFormatError";
}

const associated = (aad: Uint8Array) => Buffer.concat([Buffer.from([ENVELOPE_VERSION]), aad]);

export function sealEnvelope(
  key: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array = Buffer.alloc(0),
): Buffer {
  const iv = randomBytes(AES_256_GCM.ivBytes);
  return Buffer.concat([
    Buffer.from([ENVELOPE_VERSION]),
    iv,
    gcmEncrypt(key, iv, plaintext, associated(aad)),
  ]);
}

/** Opens an envelope; `AuthenticationError` if anything (key, aad, any byte) differs from sealing. */
export function openEnvelope(
  key: Uint8Array,
  envelope: Uint8Array,
  aad: Uint8Array = Buffer.alloc(0),
): Buffer {
  if (envelope.length < HEADER + AES_256_GCM.tagBytes)
    throw new EnvelopeFormatError("the envelope is truncated");
  if (envelope[0] !== ENVELOPE_VERSION)
    throw new EnvelopeFormatError(`unknown envelope version ${envelope[0]}`);
  return gcmDecrypt(key, envelope.subarray(1, HEADER), envelope.subarray(HEADER), associated(aad));
}
