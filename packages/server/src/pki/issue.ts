import type { X509Certificate } from "node:crypto";
import { sha256Fingerprint } from "@bulwark/sdk/fingerprint";
import { toPem } from "@bulwark/sdk/pem";
import {
  buildTbsCertificate,
  type CertificateTemplate,
  signedCertificate,
} from "@bulwark/sdk/x509/certificate";
import type { Queryable } from "../store/store.ts";
import type { CertificateAuthority } from "./ca.ts";
import type { CustodySigner, KeyCustody } from "./key-custody.ts";
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
  /** The certificate this one renews (RFC 7030 §4.2.2), so revocation can follow the chain. */
  renewedFrom?: string;
}

export interface IssuedCertificate {
  serial: string;
  der: Buffer;
  /** RFC 7468 text, made from the DER when read (bulk issuance stores and returns DER only). */
  readonly pem: string;
  fingerprint: string;
  notBefore: Date;
  notAfter: Date;
}

const INSERT_ROWS = 100;
const INSERT_CERTIFICATES = `INSERT INTO certificates
  (serial, ca_id, device_id, subject, fingerprint, not_before, not_after, der, status, created_at, renewed_from) VALUES`;
const CERTIFICATE_TUPLE = "(?, ?, ?, ?, ?, ?, ?, ?, 'valid', ?, ?)";

/** Builds, signs (through custody) and records one certificate; `tx` makes it part of a caller's transaction. */
export async function issueCertificate(
  tx: Queryable,
  custody: KeyCustody,
  request: IssueRequest,
): Promise<IssuedCertificate> {
  const [issued] = await issueCertificates(tx, custody, request.ca, [request]);
  return issued!;
}

/**
 * Bulk issuance from one CA inside the caller's transaction: each certificate is built, signed
 * through custody and stored; the CA key's use is recorded as one `key.use` audit entry listing
 * every serial it signed (the same record as one entry per certificate, written once).
 */
export async function issueCertificates(
  tx: Queryable,
  custody: KeyCustody,
  ca: CertificateAuthority,
  requests: Omit<IssueRequest, "ca">[],
): Promise<IssuedCertificate[]> {
  const signer = await custody.signer(ca.keyId);
  // RFC 5280 §4.1.2.5: a certificate never outlives its issuer.
  const caNotAfter = Date.parse(ca.x509.validTo);
  const now = Date.now();
  const issued: IssuedCertificate[] = [];
  // In chunks of INSERT_ROWS, each in phases (build every TBS, sign them all, encode, store): a
  // chunk keeps the signing code and its tables hot instead of alternating DER building and EC
  // arithmetic per certificate, and is small enough that its intermediate values die young (with
  // all 500 certificates of a bulk batch in flight at once, every scavenge copied ~4.5 MB of them).
  for (let start = 0; start < requests.length; start += INSERT_ROWS) {
    const chunk = requests.slice(start, start + INSERT_ROWS);
    const certificates = signChunk(ca, caNotAfter, signer, chunk);
    // Multi-row INSERTs (portable SQLite/PostgreSQL): 10 bound values a row, 100 rows a statement.
    await tx.run(
      `${INSERT_CERTIFICATES} ${certificates.map(() => CERTIFICATE_TUPLE).join(", ")}`,
      certificates.flatMap((c, i) => {
        const request = chunk[i]!;
        return [
          c.serial,
          ca.id,
          request.deviceId,
          request.subjectText,
          c.fingerprint,
          c.notBefore.getTime(),
          c.notAfter.getTime(),
          c.der,
          now,
          request.renewedFrom ?? null,
        ];
      }),
    );
    for (const c of certificates) issued.push(c);
  }
  await recordKeyUse(tx, {
    keyId: ca.keyId,
    caName: ca.name,
    purpose: "certificate",
    subject: requests.length === 1 ? requests[0]!.subjectText : `${requests.length} certificates`,
    serials: issued.map((c) => c.serial),
  });
  return issued;
}

function signChunk(
  ca: CertificateAuthority,
  caNotAfter: number,
  signer: CustodySigner,
  requests: Omit<IssueRequest, "ca">[],
): IssuedCertificate[] {
  const templates = requests.map((request) => template(ca, caNotAfter, request));
  const tbs = templates.map((t) => buildTbsCertificate(t, signer.algorithm));
  const signatures = tbs.map((t) => signer.sign(t));
  return templates.map((t, i) => {
    const der = signedCertificate(tbs[i]!, signer.algorithm, signatures[i]!);
    return {
      serial: t.serial.toString("hex"),
      der,
      get pem() {
        return toPem("CERTIFICATE", der);
      },
      fingerprint: sha256Fingerprint(der),
      notBefore: t.notBefore,
      notAfter: t.notAfter,
    };
  });
}

function template(
  ca: CertificateAuthority,
  caNotAfter: number,
  request: Omit<IssueRequest, "ca">,
): CertificateTemplate {
  const now = Date.now();
  return {
    serial: randomSerial(),
    issuerDer: ca.subjectDer,
    subjectDer: request.subjectDer,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(Math.min(now + request.validityMs, caNotAfter)),
    spki: request.spki,
    extensions: request.extensions,
  };
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
