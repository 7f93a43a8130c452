import type { X509Certificate } from "node:crypto";
import { sha256Fingerprint } from "@bulwark/sdk/fingerprint";
import { toPem } from "@bulwark/sdk/pem";
import { buildCertificate } from "@bulwark/sdk/x509/certificate";
import type { Queryable } from "../store/store.ts";
import type { CertificateAuthority } from "./ca.ts";
import type { KeyCustody } from "./key-custody.ts";
import { recordKeyUse } from "./key-use.ts";
import { BACKDATE_MS, randomSerial } from "./profiles.ts";

export interface IssueRequest {
  ca: CertificateAuthority;
  subjectDer: Buffer;
  subjectText: string;
  spki: Buffer;
  extensions: Buffer[];
  validityMs: number;
  deviceId: string | null;
}

export interface IssuedCertificate {
  serial: string;
  der: Buffer;
  pem: string;
  fingerprint: string;
  notBefore: Date;
  notAfter: Date;
}

/** Builds, signs (through custody) and records one certificate; `tx` makes it part of a caller's transaction. */
export async function issueCertificate(
  tx: Queryable,
  custody: KeyCustody,
  request: IssueRequest,
): Promise<IssuedCertificate> {
  const now = Date.now();
  const notBefore = new Date(now - BACKDATE_MS);
  // RFC 5280 §4.1.2.5: a certificate never outlives its issuer.
  const caNotAfter = new Date(request.ca.x509.validTo).getTime();
  const notAfter = new Date(Math.min(now + request.validityMs, caNotAfter));
  const serial = randomSerial();
  const der = buildCertificate(
    {
      serial,
      issuerDer: request.ca.subjectDer,
      subjectDer: request.subjectDer,
      notBefore,
      notAfter,
      spki: request.spki,
      extensions: request.extensions,
    },
    await custody.signer(request.ca.keyId),
  );
  const issued: IssuedCertificate = {
    serial: serial.toString("hex"),
    der,
    pem: toPem("CERTIFICATE", der),
    fingerprint: sha256Fingerprint(der),
    notBefore,
    notAfter,
  };
  await recordKeyUse(tx, {
    keyId: request.ca.keyId,
    caName: request.ca.name,
    purpose: "certificate",
    subject: request.subjectText,
    serial: issued.serial,
  });
  await tx.run(
    `INSERT INTO certificates (serial, ca_id, device_id, subject, fingerprint, not_before, not_after, pem, status, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'valid', ?)`,
    [
      issued.serial,
      request.ca.id,
      request.deviceId,
      request.subjectText,
      issued.fingerprint,
      notBefore.getTime(),
      notAfter.getTime(),
      issued.pem,
      now,
    ],
  );
  return issued;
}

/** Serial as node:crypto prints it (uppercase hex, no leading zero byte) → our lowercase storage form. */
export function serialOf(x509: X509Certificate): string {
  return x509.serialNumber.toLowerCase().replace(/^(00)+(?=[0-9a-f]{2})/, "");
}

export interface CertificateStatusRow {
  serial: string;
  ca_id: string;
  device_id: string | null;
  status: "valid" | "revoked";
  not_before: number;
  not_after: number;
  revoked_at: number | null;
  revocation_reason: string | null;
}

export async function certificateStatus(
  db: Queryable,
  serial: string,
): Promise<CertificateStatusRow | undefined> {
  return db.get<CertificateStatusRow>(
    `SELECT serial, ca_id, device_id, status, not_before, not_after, revoked_at, revocation_reason
     FROM certificates WHERE serial = ?`,
    [serial],
  );
}
