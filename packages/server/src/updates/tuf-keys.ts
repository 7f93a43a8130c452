import {
  keyIdOf,
  type RoleSigners,
  signingMessage,
  type TufKey,
  type TufSigner,
  tufKeyOf,
} from "@bulwark/sdk/tuf";
import type { KeyCustody } from "../custody/key-custody.ts";
import type { RoleKeyIds } from "./tuf-store.ts";

/**
 * A TUF signer over a key held in custody (encrypted at rest under the master key, like the CA
 * keys): the private half never leaves `KeyCustody`. ECDSA signs the canonical bytes with SHA-256
 * (TUF spec §4.2.2 ecdsa-sha2-nistp256, DER); ML-DSA-65 signs the TAP 21 message (pure, empty context).
 */
export async function custodySigner(custody: KeyCustody, keyId: string): Promise<TufSigner> {
  const held = await custody.get(keyId);
  const key = tufKeyOf(held.publicKey);
  const signer = await custody.signer(keyId);
  return {
    key,
    keyid: keyIdOf(key),
    sign: async (canonical) => signer.sign(signingMessage(key, canonical)).toString("hex"),
  };
}

/** One signer = an ECDSA P-256 key and an ML-DSA-65 key (the hybrid pair every role carries). */
export async function generateSignerPair(custody: KeyCustody, label: string): Promise<string[]> {
  const ecdsa = await custody.generate(`${label}:ecdsa`, "ecdsa-p256");
  const mldsa = await custody.generate(`${label}:ml-dsa`, "ml-dsa-65");
  return [ecdsa.id, mldsa.id];
}

export async function tufKeysOf(custody: KeyCustody, keyIds: string[]): Promise<TufKey[]> {
  return Promise.all(keyIds.map(async (id) => tufKeyOf((await custody.get(id)).publicKey)));
}

/** Signers for the online roles (and the root keys still held, if any), by role name. */
export async function roleSigners(custody: KeyCustody, ids: RoleKeyIds): Promise<RoleSigners> {
  const of = (keyIds: string[]) => Promise.all(keyIds.map((id) => custodySigner(custody, id)));
  const signers: RoleSigners = {
    root: await of(ids.root),
    targets: await of(ids.targets),
    snapshot: await of(ids.snapshot),
    timestamp: await of(ids.timestamp),
  };
  for (const [component, keyIds] of Object.entries(ids.components)) signers[component] = await of(keyIds);
  return signers;
}
