import type { X509Certificate } from "node:crypto";
import { BulwarkError } from "@bulwark/sdk/errors";
import { OID } from "@bulwark/sdk/oids";
import { spkiPublicKeyBits } from "@bulwark/sdk/x509/certificate";
import {
  authorityKeyIdentifier,
  basicConstraints,
  extKeyUsage,
  keyIdentifier,
  keyUsage,
  subjectAltName,
  subjectKeyIdentifier,
} from "@bulwark/sdk/x509/extensions";
import { encodeName } from "@bulwark/sdk/x509/name";
import type { AuditEntry } from "../audit/audit-log.ts";
import { byRole, type CertificateAuthority, createCa, listCas } from "../pki/ca.ts";
import { type IssuedCertificate, issueCertificate, serialOf } from "../pki/issue.ts";
import type { KeyCustody } from "../pki/key-custody.ts";
import type { RevocationService } from "../pki/revocation.ts";
import type { Queryable, Store } from "../store/store.ts";

/**
 * Client certificates for operators and automation, issued by the Operator CA (root → operator,
 * pathLen 0), kept apart from the device CA so a device identity can never sign in as a person.
 */
export const OPERATOR_CA_NAME = "Bulwark Operator CA";
const DAY_MS = 24 * 3600 * 1000;

/** Creates the Operator CA under the root once (first start, or the first start after upgrade). */
export async function ensureOperatorCa(store: Store, custody: KeyCustody): Promise<CertificateAuthority> {
  const existing = (await listCas(store)).find((ca) => ca.role === "operator");
  if (existing) return existing;
  return store.transaction(async (tx) => {
    const root = byRole(await listCas(tx), "root");
    return createCa(tx, custody, {
      name: OPERATOR_CA_NAME,
      role: "operator",
      algorithm: "ecdsa-p256",
      validityYears: 10,
      pathLength: 0,
      parent: root,
    });
  });
}

/** The stable identity carried in an operator certificate (RFC 5280 §4.2.1.6 URI SAN). */
export const operatorUri = (userId: string): string => `urn:bulwark:user:${userId}`;

/** Operator certificate profile: end entity, clientAuth only, the user as URI SAN. */
function operatorExtensions(userId: string, spki: Buffer, issuerKeyId: Buffer): Buffer[] {
  return [
    basicConstraints(false),
    keyUsage(["digitalSignature"]),
    extKeyUsage([OID.clientAuth]),
    subjectKeyIdentifier(keyIdentifier(spkiPublicKeyBits(spki))),
    authorityKeyIdentifier(issuerKeyId),
    subjectAltName({ uris: [operatorUri(userId)] }),
  ];
}

export async function issueOperatorCertificate(
  tx: Queryable,
  custody: KeyCustody,
  options: {
    ca: CertificateAuthority;
    user: { id: string; username: string };
    spki: Buffer;
    validityDays: number;
    createdBy: string;
  },
): Promise<IssuedCertificate> {
  const subjectDer = encodeName([
    { type: OID.organizationName, value: "Bulwark operators" },
    { type: OID.commonName, value: options.user.username },
  ]);
  const issued = await issueCertificate(tx, custody, {
    ca: options.ca,
    subjectDer,
    subjectText: `O=Bulwark operators, CN=${options.user.username}`,
    spki: options.spki,
    extensions: operatorExtensions(options.user.id, options.spki, options.ca.keyIdentifier),
    validityMs: options.validityDays * DAY_MS,
    deviceId: null,
  });
  await tx.run(
    `INSERT INTO operator_certificates (serial, user_id, created_by, created_at) VALUES (?, ?, ?, ?)`,
    [issued.serial, options.user.id, options.createdBy, Date.now()],
  );
  return issued;
}

/**
 * The operator a verified TLS client certificate names: issued by the Operator CA (signature
 * checked, not only the name), within its validity, not revoked, and bound to a user.
 */
export async function operatorFromCertificate(
  db: Queryable,
  peer: X509Certificate,
  ca: CertificateAuthority,
  now = Date.now(),
): Promise<{ userId: string; serial: string } | undefined> {
  if (!peer.checkIssued(ca.x509) || !peer.verify(ca.x509.publicKey)) return undefined;
  if (now < Date.parse(peer.validFrom) || now > Date.parse(peer.validTo)) return undefined;
  const serial = serialOf(peer);
  const row = await db.get<{ user_id: string; status: string }>(
    `SELECT o.user_id, c.status FROM operator_certificates o JOIN certificates c ON c.serial = o.serial WHERE o.serial = ?`,
    [serial],
  );
  if (row?.status !== "valid") return undefined;
  return { userId: row.user_id, serial };
}

export interface OperatorCertificateInfo {
  serial: string;
  userId: string;
  subject: string;
  status: string;
  notAfter: string;
}

export async function listOperatorCertificates(db: Queryable): Promise<OperatorCertificateInfo[]> {
  const rows = await db.all<{
    serial: string;
    user_id: string;
    subject: string;
    status: string;
    not_after: number;
  }>(
    `SELECT o.serial, o.user_id, c.subject, c.status, c.not_after FROM operator_certificates o
     JOIN certificates c ON c.serial = o.serial ORDER BY o.created_at`,
  );
  return rows.map((r) => ({
    serial: r.serial,
    userId: r.user_id,
    subject: r.subject,
    status: r.status,
    notAfter: new Date(Number(r.not_after)).toISOString(),
  }));
}

/**
 * RFC 5280 §5.3.1 cessationOfOperation, through the PKI's revocation service (which re-signs the
 * Operator CA's CRL in the same transaction); the certificate stops signing in at once (checked
 * per request). Refused unless the serial is a valid operator certificate.
 */
export async function revokeOperatorCertificate(
  tx: Queryable,
  revocation: RevocationService,
  serial: string,
  actor: AuditEntry["actor"],
): Promise<void> {
  const row = await tx.get<{ status: string }>(
    `SELECT c.status FROM operator_certificates o JOIN certificates c ON c.serial = o.serial WHERE o.serial = ?`,
    [serial],
  );
  if (row?.status !== "valid")
    throw new BulwarkError("BW_ERR_NOT_FOUND", "no such valid operator certificate");
  await revocation.revokeIn(
    tx,
    { kind: "certificate", serial, scope: "operator" },
    "cessationOfOperation",
    actor,
  );
}
