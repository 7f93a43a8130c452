import { DOCUMENT_SIGNING_EKU, type SignedEnvelope, sealEnvelope } from "@bulwark/sdk/wire/signed";
import { spkiPublicKeyBits } from "@bulwark/sdk/x509/certificate";
import {
  authorityKeyIdentifier,
  basicConstraints,
  extKeyUsage,
  keyIdentifier,
  keyUsage,
  subjectKeyIdentifier,
} from "@bulwark/sdk/x509/extensions";
import { commonNameOnly } from "@bulwark/sdk/x509/name";
import type { KeyCustody } from "../custody/key-custody.ts";
import type { CertificateAuthority } from "../pki/ca.ts";
import { issueCertificate } from "../pki/issue.ts";
import { storedCertificate } from "../pki/stored-certificate.ts";
import type { Store } from "../store/store.ts";

/** Signs `config` and `cmd` messages for devices. */
export interface MessageSigner {
  seal(payload: unknown): Promise<SignedEnvelope>;
}

const SETTING = "fleet.config-signer";
const VALIDITY_MS = 2 * 365 * 24 * 3600 * 1000;
const RENEW_BEFORE_MS = 60 * 24 * 3600 * 1000;

/** Config-signing profile: end entity, digitalSignature, RFC 9336 documentSigning EKU only. */
function signerExtensions(spki: Buffer, issuerKeyId: Buffer): Buffer[] {
  return [
    basicConstraints(false),
    keyUsage(["digitalSignature"]),
    extKeyUsage([DOCUMENT_SIGNING_EKU]),
    subjectKeyIdentifier(keyIdentifier(spkiPublicKeyBits(spki))),
    authorityKeyIdentifier(issuerKeyId),
  ];
}

interface StoredSigner {
  keyId: string;
  serial: string;
}

async function loadOrIssue(
  store: Store,
  custody: KeyCustody,
  serviceCa: CertificateAuthority,
): Promise<{ keyId: string; der: Buffer }> {
  const row = await store.get<{ value: string }>(`SELECT value FROM settings WHERE key = ?`, [SETTING]);
  if (row) {
    const stored = JSON.parse(row.value) as StoredSigner;
    const cert = await storedCertificate(store, stored.serial);
    if (cert && cert.notAfter - Date.now() > RENEW_BEFORE_MS) return { keyId: stored.keyId, der: cert.der };
  }
  // The key never leaves custody (not exportable); only its signatures do.
  const key = await custody.generate("fleet:config-signer", "ecdsa-p256");
  const spki = key.publicKey.export({ type: "spki", format: "der" });
  const issued = await store.transaction(async (tx) => {
    const certificate = await issueCertificate(tx, custody, {
      ca: serviceCa,
      subjectDer: commonNameOnly("Bulwark Device Configuration Signer"),
      subjectText: "config-signer",
      spki,
      extensions: signerExtensions(spki, serviceCa.keyIdentifier),
      validityMs: VALIDITY_MS,
      deviceId: null,
    });
    await tx.run(`DELETE FROM settings WHERE key = ?`, [SETTING]);
    await tx.run(`INSERT INTO settings (key, value) VALUES (?, ?)`, [
      SETTING,
      JSON.stringify({ keyId: key.id, serial: certificate.serial } satisfies StoredSigner),
    ]);
    return certificate;
  });
  return { keyId: key.id, der: issued.der };
}

/**
 * The device-message signer: a custody key with a certificate from the service CA, re-issued
 * near expiry. Devices verify it up to the root they pinned at enrolment.
 */
export async function configSigner(
  store: Store,
  custody: KeyCustody,
  serviceCa: CertificateAuthority,
): Promise<MessageSigner> {
  const { keyId, der } = await loadOrIssue(store, custody, serviceCa);
  const signer = await custody.signer(keyId);
  const chain = [der, serviceCa.der];
  return { seal: async (payload) => sealEnvelope(payload, signer, chain) };
}
