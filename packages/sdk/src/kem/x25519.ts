import { createPrivateKey, createPublicKey, diffieHellman, type KeyObject } from "node:crypto";

/** X25519 (RFC 7748 §5) over raw 32-byte keys. */
export const x25519PrivateKey = (raw: Uint8Array): KeyObject =>
  createPrivateKey({ key: Buffer.from(raw), format: "raw-private", asymmetricKeyType: "x25519" });

export const x25519PublicKey = (raw: Uint8Array): KeyObject =>
  createPublicKey({ key: Buffer.from(raw), format: "raw-public", asymmetricKeyType: "x25519" });

/** X25519(k, 9): the public key of a private scalar (RFC 7748 §6.1). */
export const x25519Base = (privateKey: KeyObject): Buffer =>
  createPublicKey(privateKey).export({ format: "raw-public" });

/**
 * X25519(k, u). node:crypto (OpenSSL) refuses an all-zero result, i.e. a low-order `u` (RFC 7748 §6.1
 * "MAY check"); in X-Wing that only happens for a ciphertext or key no honest party made.
 */
export const x25519 = (privateKey: KeyObject, publicKey: Uint8Array): Buffer =>
  diffieHellman({ privateKey, publicKey: x25519PublicKey(publicKey) });
