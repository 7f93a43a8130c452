import { toPem } from "@bulwark/sdk/pem";
import { DOCUMENT_SIGNING_EKU } from "@bulwark/sdk/wire/signed";
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
import type { CertificateAuthority } from "../../pki/ca.ts";
import { issueCertificate } from "../../pki/issue.ts";
import type { KeyCustody } from "../../pki/key-custody.ts";
import { storedCertificate } from "../../pki/stored-certificate.ts";
import type { Store } from "../../store/store.ts";

/**
 * The key that signs exported CRA documentation: a custody key (never exportable) with a
 * certificate from the platform's service CA carrying only the RFC 9336 documentSigning EKU, so a
 * bundle verifies offline up to the Bulwark root. Its own key, apart from the device-config signer.
 */
const SETTING = "cra.documentation-signer";
const VALIDITY_MS = 2 * 365 * 24 * 3600 * 1000;
const RENEW_BEFORE_MS = 60 * 24 * 3600 * 1000;

export interface DocumentationSigner {
  /** ECDSA P-256 / SHA-256 signature (DER). */
  sign(data: Buffer): Promise<Buffer>;
  /** Leaf and service CA, PEM. */
  chain: string[];
}

export async function documentationSigner(
  store: Store,
  custody: KeyCustody,
  serviceCa: CertificateAuthority,
): Promise<DocumentationSigner> {
  const row = await store.get<{ value: string }>(`SELECT value FROM settings WHERE key = ?`, [SETTING]);
  let keyId: string | undefined;
  let der: Buffer | undefined;
  if (row) {
    const stored = JSON.parse(row.value) as { keyId: string; serial: string };
    const cert = await storedCertificate(store, stored.serial);
    if (cert && cert.notAfter - Date.now() > RENEW_BEFORE_MS)
      ({ keyId, der } = { keyId: stored.keyId, der: cert.der });
  }
  if (!keyId || !der) {
    const key = await custody.generate("cra:documentation-signer", "ecdsa-p256");
    const spki = key.publicKey.export({ type: "spki", format: "der" });
    const issued = await store.transaction(async (tx) => {
      const certificate = await issueCertificate(tx, custody, {
        ca: serviceCa,
        subjectDer: commonNameOnly("Bulwark CRA Documentation Signer"),
        subjectText: "cra-documentation-signer",
        spki,
        extensions: [
          basicConstraints(false),
          keyUsage(["digitalSignature"]),
          extKeyUsage([DOCUMENT_SIGNING_EKU]),
          subjectKeyIdentifier(keyIdentifier(spkiPublicKeyBits(spki))),
          authorityKeyIdentifier(serviceCa.keyIdentifier),
        ],
        validityMs: VALIDITY_MS,
        deviceId: null,
      });
      await tx.run(`DELETE FROM settings WHERE key = ?`, [SETTING]);
      await tx.run(`INSERT INTO settings (key, value) VALUES (?, ?)`, [
        SETTING,
        JSON.stringify({ keyId: key.id, serial: certificate.serial }),
      ]);
      return certificate;
    });
    keyId = key.id;
    der = issued.der;
  }
  const signer = await custody.signer(keyId);
  return { sign: async (data) => signer.sign(data), chain: [toPem("CERTIFICATE", der), serviceCa.pem] };
}
