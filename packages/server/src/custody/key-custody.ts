import type { KeyObject } from "node:crypto";
import type { KeyAlgorithm } from "@bulwark/sdk/x509/algorithms";

/** A key held in custody: its id, algorithm and public half. The private half never leaves. */
export interface CustodyKey {
  id: string;
  label: string;
  algorithm: KeyAlgorithm;
  publicKey: KeyObject;
}

/** A signing capability bound to one custody key. */
export interface CustodySigner {
  algorithm: KeyAlgorithm;
  keyId: string;
  sign(data: Buffer): Buffer;
}

/**
 * The `KeyCustody` port (docs/architecture.md): CA and service keys are created and used here
 * and stored encrypted at rest. Implementations: `FileKeyCustody` now; PKCS#11 later.
 */
export interface KeyCustody {
  generate(label: string, algorithm: KeyAlgorithm, options?: { exportable?: boolean }): Promise<CustodyKey>;
  get(id: string): Promise<CustodyKey>;
  signer(id: string): Promise<CustodySigner>;
  /**
   * Only for keys generated `exportable` (TLS endpoint keys that OpenSSL must hold in memory);
   * CA keys are never exportable.
   */
  exportPrivateKeyPem(id: string): Promise<string>;
  /**
   * Destroys a retired key (e.g. a rotated TUF key): it can never sign again. Unknown ids are
   * ignored. The sealed key is overwritten and flushed before it is unlinked.
   */
  destroy(id: string): Promise<void>;
  /** Every key held, id and label only (a key being written may be missing from the list). */
  list(): Promise<Array<{ id: string; label: string }>>;
}

/** Called on every custody operation so that key use can be audit-logged. */
export type KeyUseListener = (event: {
  keyId: string;
  label: string;
  operation: "generate" | "sign" | "export" | "destroy";
}) => void;
