import type { RevocationReason } from "@bulwark/sdk/x509/crl";
import { buildCrl } from "@bulwark/sdk/x509/crl";
import type { KeyCustody } from "../custody/key-custody.ts";
import type { Queryable, Store } from "../store/store.ts";
import type { CertificateAuthority } from "./ca.ts";
import { recordKeyUse } from "./key-use.ts";

/** How long a CRL is valid (RFC 5280 §5.1.2.5 nextUpdate) and how early it is re-signed on schedule. */
export const CRL_VALIDITY_MS = 24 * 3600 * 1000;
export const CRL_RESIGN_BEFORE_MS = 12 * 3600 * 1000;

/** The CAs that publish a CRL and answer OCSP: every issuing CA whose key we hold. */
export const issuingCas = (cas: CertificateAuthority[]) => cas.filter((c) => c.role !== "root" && c.hasKey);

/**
 * RFC 5280 §5: signs and stores a new CRL for `ca` with every revoked, unexpired certificate it
 * issued and the next CRL number (§5.2.3: monotonically increasing). Runs inside the caller's
 * transaction so a revocation and its CRL commit together.
 */
export async function publishCrl(
  tx: Queryable,
  custody: KeyCustody,
  ca: CertificateAuthority,
): Promise<Buffer> {
  const now = Date.now();
  const previous = await tx.get<{ crl_number: number }>(`SELECT crl_number FROM crls WHERE ca_id = ?`, [
    ca.id,
  ]);
  const crlNumber = BigInt(previous?.crl_number ?? 0) + 1n;
  const rows = await tx.all<{ serial: string; revoked_at: number; revocation_reason: string | null }>(
    `SELECT serial, revoked_at, revocation_reason FROM certificates
     WHERE ca_id = ? AND status = 'revoked' AND not_after > ? ORDER BY revoked_at, serial`,
    [ca.id, now],
  );
  const der = buildCrl(
    {
      issuerDer: ca.subjectDer,
      issuerKeyId: ca.keyIdentifier,
      thisUpdate: new Date(now),
      nextUpdate: new Date(now + CRL_VALIDITY_MS),
      crlNumber,
      revoked: rows.map((r) => ({
        serialHex: r.serial,
        revokedAt: new Date(Number(r.revoked_at)),
        reason: (r.revocation_reason ?? "unspecified") as RevocationReason,
      })),
    },
    await custody.signer(ca.keyId),
  );
  await recordKeyUse(tx, { keyId: ca.keyId, caName: ca.name, purpose: "crl", subject: `CRL #${crlNumber}` });
  await tx.run(`DELETE FROM crls WHERE ca_id = ?`, [ca.id]);
  await tx.run(`INSERT INTO crls (ca_id, crl_number, this_update, next_update, der) VALUES (?, ?, ?, ?, ?)`, [
    ca.id,
    Number(crlNumber),
    now,
    now + CRL_VALIDITY_MS,
    der.toString("base64"),
  ]);
  return der;
}

/** The scheduled part: re-signs each issuing CA's CRL that is missing or close to its nextUpdate. */
export async function refreshCrls(
  store: Store,
  custody: KeyCustody,
  cas: CertificateAuthority[],
): Promise<number> {
  let published = 0;
  for (const ca of issuingCas(cas)) {
    const row = await store.get<{ next_update: number }>(`SELECT next_update FROM crls WHERE ca_id = ?`, [
      ca.id,
    ]);
    if (row && Number(row.next_update) - Date.now() > CRL_RESIGN_BEFORE_MS) continue;
    await store.transaction((tx) => publishCrl(tx, custody, ca));
    published++;
  }
  return published;
}

export async function currentCrl(db: Queryable, caId: string): Promise<Buffer | undefined> {
  const row = await db.get<{ der: string }>(`SELECT der FROM crls WHERE ca_id = ?`, [caId]);
  return row && Buffer.from(row.der, "base64");
}
