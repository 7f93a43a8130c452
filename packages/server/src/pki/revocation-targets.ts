import { BulwarkError } from "@bulwark/sdk/errors";
import type { RevocationReason } from "@bulwark/sdk/x509/crl";
import type { Queryable } from "../store/store.ts";

/**
 * What a certificate is for: a device's identity, an operator's client certificate, or one of the
 * server's own (TLS, config signer, OCSP responder). Each kind is revoked through its own route.
 */
export type CertificateKind = "device" | "operator" | "service";

/** The kind of certificate row `c`, as SQL (device rows carry their device id). */
export const CERTIFICATE_KIND_SQL = `CASE WHEN c.device_id IS NOT NULL THEN 'device'
  WHEN EXISTS (SELECT 1 FROM operator_certificates o WHERE o.serial = c.serial) THEN 'operator'
  ELSE 'service' END`;

/** Which certificates one revocation covers. */
export type RevocationTarget =
  | { kind: "certificate"; serial: string; scope: CertificateKind }
  | { kind: "device"; deviceId: string };

export interface RevocationRow {
  serial: string;
  ca_id: string;
  device_id: string | null;
  status: "valid" | "revoked";
  revoked_at: number | null;
  revocation_reason: string | null;
  kind: CertificateKind;
}

const COLUMNS = `c.serial, c.ca_id, c.device_id, c.status, c.revoked_at, c.revocation_reason,
  ${CERTIFICATE_KIND_SQL} AS kind`;

// Where each kind of certificate is revoked instead (issue #13 (8): the certificate route is for devices).
const ELSEWHERE: Record<CertificateKind, string> = {
  device: "through POST /api/v1/certificates/{serial}/revoke",
  operator: "through DELETE /api/v1/operator-certificates/{serial}",
  service: "not through this route: it is one of the server's own certificates",
};

async function oneCertificate(db: Queryable, serial: string, scope: CertificateKind): Promise<RevocationRow> {
  const row = await db.get<RevocationRow>(`SELECT ${COLUMNS} FROM certificates c WHERE c.serial = ?`, [
    serial,
  ]);
  if (!row) throw new BulwarkError("BW_ERR_CERTIFICATE_NOT_FOUND", `no certificate with serial ${serial}`);
  if (row.kind !== scope)
    throw new BulwarkError(
      "BW_ERR_FORBIDDEN",
      `certificate ${serial} is a ${row.kind} certificate; it is revoked ${ELSEWHERE[row.kind]}`,
    );
  return row;
}

/** Every certificate renewed from `serial`, directly or through other renewals (issue #13 (6)). */
function renewedFrom(db: Queryable, serial: string): Promise<RevocationRow[]> {
  return db.all<RevocationRow>(
    `WITH RECURSIVE chain(serial) AS (
       SELECT serial FROM certificates WHERE renewed_from = ?
       UNION SELECT r.serial FROM certificates r JOIN chain ON r.renewed_from = chain.serial)
     SELECT ${COLUMNS} FROM certificates c JOIN chain ON chain.serial = c.serial ORDER BY c.created_at, c.serial`,
    [serial],
  );
}

/**
 * The certificate rows a revocation covers: one certificate of the route's kind (and, for
 * keyCompromise, every certificate renewed from it: a re-key made with a stolen key must not
 * outlive the key), or every certificate of one device.
 */
export async function targetRows(
  db: Queryable,
  target: RevocationTarget,
  reason: RevocationReason,
): Promise<RevocationRow[]> {
  if (target.kind === "device")
    return db.all<RevocationRow>(
      `SELECT ${COLUMNS} FROM certificates c WHERE c.device_id = ? ORDER BY c.created_at, c.serial`,
      [target.deviceId],
    );
  const row = await oneCertificate(db, target.serial, target.scope);
  return reason === "keyCompromise" ? [row, ...(await renewedFrom(db, target.serial))] : [row];
}
