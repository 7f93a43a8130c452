import * as openpgp from "openpgp";
import type { SecretBox } from "../../access/secret-box.ts";
import type { Store } from "../../store/store.ts";

/**
 * The OpenPGP key that signs published CSAF documents (CSAF 2.0 §7.1.19–20, requirements 19 and
 * 20: a detached `.asc` signature per file, the public key published). An Ed25519 key, its private
 * half sealed at rest with the master key.
 */
const SETTING = "cra.csaf-openpgp";
const CONTEXT = "cra-csaf-openpgp";

export interface CsafSigningKey {
  fingerprint: string;
  publicKeyArmored: string;
  sign(data: Uint8Array): Promise<string>;
  /** An OpenPGP cleartext signature (RFC 9580 §7) over `text`, e.g. security.txt (RFC 9116 §2.3). */
  signCleartext(text: string): Promise<string>;
}

interface Stored {
  fingerprint: string;
  publicKeyArmored: string;
  sealedPrivateKey: string;
}

async function load(store: Store): Promise<Stored | undefined> {
  const row = await store.get<{ value: string }>(`SELECT value FROM settings WHERE key = ?`, [SETTING]);
  return row ? (JSON.parse(row.value) as Stored) : undefined;
}

export async function ensureCsafKey(
  store: Store,
  box: SecretBox,
  publisher: { name: string; email: string },
): Promise<CsafSigningKey> {
  let stored = await load(store);
  if (!stored) {
    const { privateKey, publicKey } = await openpgp.generateKey({
      type: "ecc",
      curve: "ed25519Legacy",
      userIDs: [{ name: `${publisher.name} CSAF`, email: publisher.email }],
      format: "armored",
    });
    const key = await openpgp.readKey({ armoredKey: publicKey });
    const fresh: Stored = {
      fingerprint: key.getFingerprint().toUpperCase(),
      publicKeyArmored: publicKey,
      sealedPrivateKey: box.seal(privateKey, CONTEXT),
    };
    // A concurrent first use may have won: keep whichever key was stored first.
    await store
      .run(`INSERT INTO settings (key, value) VALUES (?, ?)`, [SETTING, JSON.stringify(fresh)])
      .catch(() => undefined);
    stored = (await load(store))!;
  }
  const privateKey = await openpgp.readPrivateKey({ armoredKey: box.open(stored.sealedPrivateKey, CONTEXT) });
  return {
    fingerprint: stored.fingerprint,
    publicKeyArmored: stored.publicKeyArmored,
    sign: async (data) =>
      (await openpgp.sign({
        message: await openpgp.createMessage({ binary: data }),
        signingKeys: privateKey,
        detached: true,
        format: "armored",
      })) as string,
    signCleartext: async (text) =>
      openpgp.sign({
        message: await openpgp.createCleartextMessage({ text }),
        signingKeys: privateKey,
        format: "armored",
      }),
  };
}

/** The published public key, if one exists yet (no key is made by a read). */
export async function csafPublicKey(
  store: Store,
): Promise<{ fingerprint: string; armored: string } | undefined> {
  const stored = await load(store);
  return stored && { fingerprint: stored.fingerprint, armored: stored.publicKeyArmored };
}
