import { toPem } from "@bulwark/sdk/pem";
import type { Queryable } from "../store/store.ts";
import { CERTIFICATE_KIND_SQL, type CertificateKind } from "./revocation-targets.ts";
import { storedDer } from "./stored-certificate.ts";

/** The certificates table as the API shows it: every kind (device, operator, service), with its CA. */
interface CertificateRow {
  serial: string;
  ca_id: string;
  ca_name: string;
  device_id: string | null;
  subject: string;
  fingerprint: string;
  not_before: number;
  not_after: number;
  status: string;
  revoked_at: number | null;
  revocation_reason: string | null;
  renewed_from: string | null;
  kind: CertificateKind;
  der: Uint8Array;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

const toCertificate = (row: CertificateRow, withPem = false) => ({
  serial: row.serial,
  kind: row.kind,
  ca: { id: row.ca_id, name: row.ca_name },
  deviceId: row.device_id,
  subject: row.subject,
  fingerprint: row.fingerprint,
  notBefore: iso(row.not_before),
  notAfter: iso(row.not_after),
  status: row.status,
  revokedAt: iso(row.revoked_at),
  revocationReason: row.revocation_reason,
  renewedFrom: row.renewed_from,
  ...(withPem ? { pem: toPem("CERTIFICATE", storedDer(row.der)) } : {}),
});

const SELECT = `SELECT c.*, ${CERTIFICATE_KIND_SQL} AS kind, a.name AS ca_name
  FROM certificates c JOIN cas a ON a.id = c.ca_id`;

/** A page of certificates, oldest first, filtered by device, status and kind. */
export async function listCertificates(
  db: Queryable,
  q: { device?: string; status?: string; kind?: CertificateKind; limit: number; offset: number },
) {
  const where: string[] = [];
  const params: (string | number)[] = [];
  for (const [column, value] of [
    ["c.device_id", q.device],
    ["c.status", q.status],
    [`(${CERTIFICATE_KIND_SQL})`, q.kind],
  ] as const) {
    if (value === undefined) continue;
    where.push(`${column} = ?`);
    params.push(value);
  }
  const clause = where.length ? ` WHERE ${where.join(" AND ")}` : "";
  const rows = await db.all<CertificateRow>(
    `${SELECT}${clause} ORDER BY c.created_at, c.serial LIMIT ? OFFSET ?`,
    [...params, q.limit, q.offset],
  );
  return rows.map((r) => toCertificate(r));
}

/** One certificate with its PEM, by serial (lower-case hex). */
export async function certificateBySerial(db: Queryable, serial: string) {
  const row = await db.get<CertificateRow>(`${SELECT} WHERE c.serial = ?`, [serial]);
  return row && toCertificate(row, true);
}
