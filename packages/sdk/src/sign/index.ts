/**
 * `@bulwark/sdk/sign`: ECDSA P-256, Ed25519, ML-DSA-44/65/87 and SLH-DSA through one interface
 * (`sign`, `verify`, `Signer`), hybrid classical + ML-DSA signatures, and detached release signatures.
 */
export * from "./algorithms.ts";
export * from "./hybrid.ts";
export * from "./release.ts";
export * from "./signature.ts";
