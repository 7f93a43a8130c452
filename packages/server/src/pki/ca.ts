import { randomUUID, X509Certificate } from "node:crypto";
import { BulwarkError } from "@bulwark/sdk/errors";
import { sha256Fingerprint } from "@bulwark/sdk/fingerprint";
import { OID } from "@bulwark/sdk/oids";
import { fromPem, toPem } from "@bulwark/sdk/pem";
import type { KeyAlgorithm } from "@bulwark/sdk/x509/algorithms";
import { buildCertificate, parseCertificate, spkiPublicKeyBits } from "@bulwark/sdk/x509/certificate";
import { keyIdentifier } from "@bulwark/sdk/x509/extensions";
import { encodeName } from "@bulwark/sdk/x509/name";
import type { CustodySigner, KeyCustody } from "../custody/key-custody.ts";
import type { Queryable } from "../store/store.ts";
import { ensureCrossCertificate } from "./cross-certificate.ts";
import { recordKeyUse } from "./key-use.ts";
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
  spki: Buffer;
  /** False for a root created offline: only its certificate is here, its key is elsewhere. */
  hasKey: boolean;
}

/** `key_id` of a CA whose private key is held outside Bulwark (an offline root). */
export const EXTERNAL_KEY = "external";

export interface CaRow {
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
    spki: fields.spki,
    hasKey: row.key_id !== EXTERNAL_KEY,
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
  await assertNameFree(store, options.name);
  if (options.parent && !options.parent.hasKey)
    throw new BulwarkError(
      "BW_ERR_CONFLICT",
      `CA ${options.parent.name} is offline; import a certificate instead`,
    );
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
  const signerCa = options.parent ?? { keyId: key.id, name: options.name };
  await recordKeyUse(store, {
    keyId: signerCa.keyId,
    caName: signerCa.name,
    purpose: "ca-certificate",
    subject: options.name,
  });
  return insertCa(store, {
    id: randomUUID(),
    name: options.name,
    role: options.role,
    algorithm: options.algorithm,
    key_id: key.id,
    parent_id: options.parent?.id ?? null,
    cert_pem: toPem("CERTIFICATE", der),
  });
}

export async function assertNameFree(db: Queryable, name: string): Promise<void> {
  if (await db.get(`SELECT id FROM cas WHERE name = ?`, [name]))
    throw new BulwarkError("BW_ERR_CONFLICT", `a CA named ${name} already exists`);
}

/** Records a CA certificate (created here or imported). */
export async function insertCa(store: Queryable, row: CaRow): Promise<CertificateAuthority> {
  const der = fromPem("CERTIFICATE", row.cert_pem);
  const now = Date.now();
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

export const PQ_ROOT_NAME = "Bulwark ML-DSA-65 Root CA";
export const PQ_DEVICE_CA_NAME = "Bulwark ML-DSA-65 Device Issuing CA";

/**
 * The post-quantum device chain (RFC 9881 ML-DSA-65 root → issuing CA), made once next to the
 * ECDSA one so TLS listeners trust both roots from the start; groups opt in via `issuingCa`.
 */
export async function ensurePostQuantumHierarchy(store: Queryable, custody: KeyCustody): Promise<boolean> {
  if (await store.get(`SELECT id FROM cas WHERE name = ?`, [PQ_ROOT_NAME])) return false;
  const classical = byRole(await listCas(store), "root");
  const root = await createCa(store, custody, {
    name: PQ_ROOT_NAME,
    role: "root",
    algorithm: "ml-dsa-65",
    validityYears: 20,
    pathLength: 1,
  });
  await createCa(store, custody, {
    name: PQ_DEVICE_CA_NAME,
    role: "device",
    algorithm: "ml-dsa-65",
    validityYears: 10,
    pathLength: 0,
    parent: root,
  });
  await ensureCrossCertificate(store, custody, root, classical);
  return true;
}

/** The device-issuing CA a group's policy names, or the first (ECDSA) one by default. */
export function deviceCaFor(
  cas: CertificateAuthority[],
  issuingCa: string | undefined,
): CertificateAuthority {
  if (!issuingCa) return byRole(cas, "device");
  const ca = cas.find((c) => c.name === issuingCa && c.role === "device" && c.hasKey);
  if (!ca)
    throw new BulwarkError("BW_ERR_CA_NOT_FOUND", `the group's issuing CA ${issuingCa} does not exist`);
  return ca;
}

/** The CAs by role; throws if the hierarchy is incomplete. */
export function byRole(cas: CertificateAuthority[], role: CaRole): CertificateAuthority {
  const ca = cas.find((c) => c.role === role);
  if (!ca) throw new Error(`no active ${role} CA`);
  return ca;
}
