import type { X509Certificate } from "node:crypto";
import { fromPemAll, toPem } from "@bulwark/sdk/pem";
import { buildCertificate } from "@bulwark/sdk/x509/certificate";
import type { KeyCustody } from "../custody/key-custody.ts";
import type { Queryable } from "../store/store.ts";
import { recordKeyUse } from "./key-use.ts";
import { BACKDATE_MS, caExtensions, randomSerial } from "./profiles.ts";

/** What cross-certification reads of a CA (ca.ts's CertificateAuthority; ca.ts calls this file). */
interface CaNameAndKey {
  name: string;
  keyId: string;
  subjectDer: Buffer;
  spki: Buffer;
  keyIdentifier: Buffer;
  x509: X509Certificate;
}

const SETTING = "pki.cross-certificates";
const YEAR_MS = 365 * 24 * 3600 * 1000;

/** The cross-certificates served with /cacerts, DER. */
export async function crossCertificates(db: Queryable): Promise<Buffer[]> {
  const row = await db.get<{ value: string }>(`SELECT value FROM settings WHERE key = ?`, [SETTING]);
  return row ? fromPemAll("CERTIFICATE", row.value) : [];
}

/**
 * RFC 5280 §3.2 / RFC 4158 cross-certification: `issuer` (the ECDSA root that devices pin for
 * bootstrap, RFC 7030 §4.1.1) certifies `subject`'s key and name, so a device that pinned the
 * classical root can also verify the ML-DSA-65 chain it gets its identity from.
 */
export async function ensureCrossCertificate(
  tx: Queryable,
  custody: KeyCustody,
  subject: CaNameAndKey,
  issuer: CaNameAndKey,
): Promise<void> {
  const existing = await crossCertificates(tx);
  if (existing.some((der) => der.includes(subject.subjectDer) && der.includes(subject.spki))) return;
  const now = Date.now();
  const der = buildCertificate(
    {
      serial: randomSerial(),
      issuerDer: issuer.subjectDer,
      subjectDer: subject.subjectDer,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(Math.min(now + 20 * YEAR_MS, Date.parse(issuer.x509.validTo))),
      spki: subject.spki,
      extensions: caExtensions(subject.spki, issuer.keyIdentifier, 1),
    },
    await custody.signer(issuer.keyId),
  );
  await recordKeyUse(tx, {
    keyId: issuer.keyId,
    caName: issuer.name,
    purpose: "ca-certificate",
    subject: `${subject.name} (cross)`,
  });
  const pem = [...existing.map((d) => toPem("CERTIFICATE", d)), toPem("CERTIFICATE", der)].join("");
  await tx.run(`DELETE FROM settings WHERE key = ?`, [SETTING]);
  await tx.run(`INSERT INTO settings (key, value) VALUES (?, ?)`, [SETTING, pem]);
}
