/**
 * `@bulwark/sdk/store`: the encrypted device store — keys, state and queued data under AES-256-GCM
 * data keys wrapped by a key-encryption key, atomic crash-safe writes, tampering reported as a
 * device security event.
 */
export {
  CREATE_STEPS,
  removeFileDurably,
  WRITE_STEPS,
  type WriteStep,
  type WriteStepHook,
  writeFileAtomic,
} from "./atomic-write.ts";
export { destroyFileKek, fileKek, type KeyEncryptionKey, memoryKek } from "./kek.ts";
export { STORE_PURPOSES, type StorePurpose } from "./keyring.ts";
export { EncryptedStore, MAX_RECORD_BYTES, type OpenStoreOptions, openStore } from "./store.ts";
export * from "./tamper.ts";
