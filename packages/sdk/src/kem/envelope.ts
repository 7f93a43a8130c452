import { AuthenticationError } from "../primitives/aes-256-gcm.ts";
import { hpkeOpen, hpkeSeal } from "./hpke.ts";
import { KemError, XWING_CIPHERTEXT_BYTES, type XWingSecretKey } from "./xwing.ts";

/**
 * Public-key envelopes: HPKE base mode with X-Wing, HKDF-SHA256 and AES-256-GCM (`hpke.ts`), for
 * data sent to a device (sealed to the device's X-Wing key) and data a device sends to the server
 * (sealed to the server's). The direction is bound into the HPKE `info`, so an envelope sealed for
 * one direction never opens as the other, and the caller's `aad` (device id, topic, record name)
 * is authenticated with the ciphertext.
 *
 *     envelope = version (0x01) ‖ enc (1120, X-Wing ciphertext) ‖ ciphertext ‖ tag (16)
 */
export const KEM_ENVELOPE_VERSION = 0x01;

/** Who the envelope is for: a device, or the server. */
export type EnvelopeDirection = "to-device" | "to-server";

export interface EnvelopeOptions {
  direction: EnvelopeDirection;
  /** Associated data: authenticated, not encrypted, not carried in the envelope. */
  aad?: Uint8Array;
}

const info = (direction: EnvelopeDirection) => Buffer.from(`bulwark/envelope/v1/${direction}`, "utf8");

export function sealTo(
  recipientPublicKey: Uint8Array,
  plaintext: Uint8Array,
  options: EnvelopeOptions,
): Buffer {
  const aad = options.aad ?? Buffer.alloc(0);
  const { enc, ciphertext } = hpkeSeal(recipientPublicKey, info(options.direction), aad, plaintext);
  return Buffer.concat([Buffer.from([KEM_ENVELOPE_VERSION]), enc, ciphertext]);
}

/** Opens an envelope with the recipient's X-Wing secret key; `AuthenticationError` on any mismatch. */
export function openWith(
  recipientSecretKey: Uint8Array | XWingSecretKey,
  envelope: Uint8Array,
  options: EnvelopeOptions,
): Buffer {
  if (envelope[0] !== KEM_ENVELOPE_VERSION) throw new KemError(`unknown envelope version ${envelope[0]}`);
  if (envelope.length < 1 + XWING_CIPHERTEXT_BYTES + 16) throw new KemError("the envelope is truncated");
  const enc = envelope.subarray(1, 1 + XWING_CIPHERTEXT_BYTES);
  const ciphertext = envelope.subarray(1 + XWING_CIPHERTEXT_BYTES);
  return hpkeOpen(
    recipientSecretKey,
    enc,
    info(options.direction),
    options.aad ?? Buffer.alloc(0),
    ciphertext,
  );
}

export { AuthenticationError };
