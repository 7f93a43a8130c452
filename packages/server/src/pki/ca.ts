import { randomUUID, X509Certificate } from "node:crypto";
import { sha256Fingerprint } from "@bulwark/sdk/fingerprint";
import { OID } from "@bulwark/sdk/oids";
import { fromPem, toPem } from "@bulwark/sdk/pem";
import type { KeyAlgorithm } from "@bulwark/sdk/x509/algorithms";
import { buildCertificate, parseCertificate, spkiPublicKeyBits } from "@bulwark/sdk/x509/certificate";
import { keyIdentifier } from "@bulwark/sdk/x509/extensions";
import { encodeName } from "@bulwark/sdk/x509/name";
import type { Queryable } from "../store/store.ts";
import type { CustodySigner, KeyCustody } from "./key-custody.ts";
import { BACKDATE_MS, caExtensions, randomSerial } from "./profiles.ts";

/** What a CA is for: the root anchors; `device` issues device identities; `service` issues endpoint certificates. */
export type CaRole = "root" | "device" | "service" | "operator";

export interface CertificateAuthority {
  id: string;
  name: string;
  role: CaRole;
  algorithm: KeyAlgorithm;
  keyId: string;
  parentId: string | null;
  der: Buffer;
  pem: string;
  fingerprint: string;
  x509: X509Certificate;
  subjectDer: Buffer;
  /** RFC 5280 §4.2.1.2 key identifier, for AKI in what this CA issues. */
  keyIdentifier: Buffer;
}

interface CaRow {
  id: string;
  name: string;
  role: CaRole;
  algorithm: KeyAlgorithm;
  key_id: string;
  parent_id: string | null;
  cert_pem: string;
}

const YEAR_MS = 365 * 24 * 3600 * 1000;

function fromRow(row: CaRow): CertificateAuthority {
  const der = fromPem("CERTIFICATE", row.cert_pem);
  const fields = parseCertificate(der);
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    algorithm: row.algorithm,
    keyId: row.key_id,
    parentId: row.parent_id,
    der,
    pem: row.cert_pem,
    fingerprint: sha256Fingerprint(der),
    x509: new X509Certificate(der),
    subjectDer: fields.subjectDer,
    keyIdentifier: keyIdentifier(fields.subjectPublicKeyBits),
  };
}

export async function listCas(store: Queryable): Promise<CertificateAuthority[]> {
  const rows = await store.all<CaRow>(`SELECT * FROM cas WHERE status = 'active' ORDER BY created_at, name`);
  return rows.map(fromRow);
}

interface CreateCaOptions {
  name: string;
  role: CaRole;
  algorithm: KeyAlgorithm;
  validityYears: number;
  pathLength: number;
  parent?: CertificateAuthority;
}

/** Creates a CA key in custody and its certificate (self-signed for a root), and records it. */
export async function createCa(
  store: Queryable,
  custody: KeyCustody,
  options: CreateCaOptions,
): Promise<CertificateAuthority> {
  const key = await custody.generate(`ca:${options.name}`, options.algorithm);
  const spki = key.publicKey.export({ type: "spki", format: "der" });
  const subjectDer = encodeName([
    { type: OID.organizationName, value: "Bulwark" },
    { type: OID.commonName, value: options.name },
  ]);
  const signer: CustodySigner = options.parent
    ? await custody.signer(options.parent.keyId)
    : await custody.signer(key.id);
  const now = Date.now();
  const der = buildCertificate(
    {
      serial: randomSerial(),
      issuerDer: options.parent?.subjectDer ?? subjectDer,
      subjectDer,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(now + options.validityYears * YEAR_MS),
      spki,
      extensions: caExtensions(
        spki,
        options.parent?.keyIdentifier ?? keyIdentifier(spkiPublicKeyBits(spki)),
        options.pathLength,
      ),
    },
    signer,
  );
  const row: CaRow = {
    id: randomUUID(),
    name: options.name,
    role: options.role,
    algorithm: options.algorithm,
    key_id: key.id,
    parent_id: options.parent?.id ?? null,
    cert_pem: toPem("CERTIFICATE", der),
  };
  await store.run(
    `INSERT INTO cas (id, name, role, algorithm, key_id, parent_id, cert_pem, fingerprint, status, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'active', ?)`,
    [
      row.id,
      row.name,
      row.role,
      row.algorithm,
      row.key_id,
      row.parent_id,
      row.cert_pem,
      sha256Fingerprint(der),
      now,
    ],
  );
  return fromRow(row);
}

/** The default hierarchy made on first start: root → device issuing CA, root → service CA (ECDSA P-256). */
export async function bootstrapHierarchy(
  store: Queryable,
  custody: KeyCustody,
): Promise<CertificateAuthority[]> {
  const root = await createCa(store, custody, {
    name: "Bulwark Root CA",
    role: "root",
    algorithm: "ecdsa-p256",
    validityYears: 20,
    pathLength: 1,
  });
  const device = await createCa(store, custody, {
    name: "Bulwark Device Issuing CA",
    role: "device",
    algorithm: "ecdsa-p256",
    validityYears: 10,
    pathLength: 0,
    parent: root,
  });
  const service = await createCa(store, custody, {
    name: "Bulwark Service CA",
    role: "service",
    algorithm: "ecdsa-p256",
    validityYears: 10,
    pathLength: 0,
    parent: root,
  });
  return [root, device, service];
}

/** The CAs by role; throws if the hierarchy is incomplete. */
export function byRole(cas: CertificateAuthority[], role: CaRole): CertificateAuthority {
  const ca = cas.find((c) => c.role === role);
  if (!ca) throw new Error(`no active ${role} CA`);
  return ca;
}
