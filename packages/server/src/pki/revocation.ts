import { BulwarkError } from "@bulwark/sdk/errors";
import type { RevocationReason } from "@bulwark/sdk/x509/crl";
import { type AuditEntry, appendAudit } from "../audit/audit-log.ts";
import type { KeyCustody } from "../custody/key-custody.ts";
import type { Store } from "../store/store.ts";
import type { CertificateAuthority } from "./ca.ts";
import { publishCrl } from "./crl-publisher.ts";
import { certificateStatus } from "./issue.ts";

export interface RevocationContext {
  store: Store;
  custody: KeyCustody;
  cas: () => CertificateAuthority[];
  /** Called after the revocation committed, to close live sessions that use the certificate. */
  onRevoked: (revoked: { serial: string; deviceId: string | null }) => void;
}

export interface Revoked {
  serial: string;
  deviceId: string | null;
  reason: RevocationReason;
  revokedAt: string;
}

/**
 * Revokes one certificate, as ordered steps: find it → refuse if already revoked → mark it revoked
 * with its RFC 5280 §5.3.1 reason → audit → re-sign the issuer's CRL (one transaction) → then
 * close live sessions. OCSP answers from the same row, so it says `revoked` from the commit on.
 */
export async function revokeCertificate(
  ctx: RevocationContext,
  serial: string,
  reason: RevocationReason,
  actor: AuditEntry["actor"],
): Promise<Revoked> {
  const revokedAt = Date.now();
  const result = await ctx.store.transaction(async (tx) => {
    const cert = await certificateStatus(tx, serial);
    if (!cert) throw new BulwarkError("BW_ERR_CERTIFICATE_NOT_FOUND", `no certificate with serial ${serial}`);
    if (cert.status === "revoked")
      throw new BulwarkError("BW_ERR_CONFLICT", `certificate ${serial} is already revoked`);
    await tx.run(
      `UPDATE certificates SET status = 'revoked', revoked_at = ?, revocation_reason = ? WHERE serial = ? AND status = 'valid'`,
      [revokedAt, reason, serial],
    );
    await appendAudit(tx, {
      actor,
      action: "certificate.revoke",
      target: { type: "certificate", id: serial },
      outcome: "success",
      details: { reason, deviceId: cert.device_id },
    });
    const ca = ctx.cas().find((c) => c.id === cert.ca_id);
    if (ca?.hasKey) await publishCrl(tx, ctx.custody, ca);
    return { serial, deviceId: cert.device_id, reason, revokedAt: new Date(revokedAt).toISOString() };
  });
  ctx.onRevoked({ serial, deviceId: result.deviceId });
  return result;
}
