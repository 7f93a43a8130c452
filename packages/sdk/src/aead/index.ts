/** `@bulwark/sdk/aead`: AES-256-GCM envelopes with associated data, and the raw AES-256-GCM profile. */
export * from "../primitives/aes-256-gcm.ts";
export * from "./envelope.ts";
