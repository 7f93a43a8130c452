/**
 * Bulwark's TUF library (The Update Framework specification 1.0.x, with TAP 21 ML-DSA
 * signatures): metadata types and validators, canonical JSON, ECDSA P-256 + ML-DSA-65 signing,
 * a repository writer with offline root signing, and a client implementing §5's workflow.
 * See docs/tuf.md.
 */
export { canonicalBytes } from "./canonical.ts";
export { type HttpFetcherOptions, httpFetcher, type TufFetcher } from "./client/fetcher.ts";
export { directoryStore, type MetadataStore, memoryStore } from "./client/store.ts";
export { TrustedSet } from "./client/trusted-set.ts";
export {
  DEFAULT_LIMITS,
  type DownloadLimits,
  type TargetInfo,
  TufUpdater,
  type UpdaterOptions,
} from "./client/updater.ts";
export { isTufError, TufError, type TufErrorCode } from "./errors.ts";
export { checkLengthAndHashes, hashesOf, metaFileOf } from "./hashes.ts";
export {
  ECDSA_KEYTYPE,
  ECDSA_SCHEME,
  generateKeyPair,
  type KeyFamily,
  keyFamily,
  keyIdOf,
  MLDSA_KEYTYPE,
  MLDSA65_SCHEME,
  publicKeyOf,
  tufKeyOf,
} from "./keys.ts";
export {
  matchesHashPrefix,
  matchesPathPattern,
  roleFileName,
  rootFileName,
  TIMESTAMP_FILE,
  targetFileNames,
} from "./layout.ts";
export * from "./metadata.ts";
export { DEFAULT_EXPIRY, type ExpiryPolicy, expiresFor } from "./repository/expiry.ts";
export {
  type DelegationSpec,
  type RepositoryOptions,
  type RoleSigners,
  TufRepository,
} from "./repository/repository.ts";
export {
  buildRoot,
  onlineKeysRotated,
  type RoleSpec,
  type RootSpec,
  verifyRootSuccessor,
} from "./repository/root.ts";
export {
  createSigningRequest,
  type DetachedSignature,
  importSignature,
  SIGNING_REQUEST_TYPE,
  type SigningRequest,
  signSigningRequest,
} from "./repository/signing-request.ts";
export {
  localSigner,
  signCanonical,
  signingMessage,
  signMetadata,
  type TufSigner,
  verifyCanonical,
} from "./signatures.ts";
export {
  countSignatures,
  meetsThreshold,
  type SignatureCount,
  type SignaturePolicy,
  verifyThreshold,
} from "./threshold.ts";
export { parseMetadata, validateSigned } from "./validate.ts";
