/**
 * `@bulwark/sdk/kem`: X-Wing (ML-KEM-768 + X25519) hybrid KEM, HPKE (RFC 9180) over it, and
 * public-key envelopes for data to and from devices; ML-KEM itself for callers that need it.
 */
export * from "./envelope.ts";
export * from "./hpke.ts";
export * from "./ml-kem.ts";
export * from "./xwing.ts";
