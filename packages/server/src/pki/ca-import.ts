import { randomUUID, X509Certificate } from "node:crypto";
import { BulwarkError } from "@bulwark/sdk/errors";
import { OID } from "@bulwark/sdk/oids";
import { fromPemAll, toPem } from "@bulwark/sdk/pem";
import { KEY_ALGORITHMS, type KeyAlgorithm, keyAlgorithmOf, spkiOf } from "@bulwark/sdk/x509/algorithms";
import { buildCsrWithSigner } from "@bulwark/sdk/x509/csr";
import { encodeName } from "@bulwark/sdk/x509/name";
import type { KeyCustody } from "../custody/key-custody.ts";
import type { Queryable } from "../store/store.ts";
import { assertNameFree, type CertificateAuthority, EXTERNAL_KEY, insertCa, listCas } from "./ca.ts";
import { recordKeyUse } from "./key-use.ts";

export interface CaRequest {
  id: string;
  name: string;
  algorithm: KeyAlgorithm;
  csrPem: string;
  status: "pending" | "imported";
}

interface CaRequestRow {
  id: string;
  name: string;
  algorithm: KeyAlgorithm;
  key_id: string;
  csr_pem: string;
  status: "pending" | "imported";
}

/**
 * Offline root, step 1: a device-issuing CA key is generated in custody and a PKCS#10 request for
 * it is returned, to be signed by a root whose key never touches this server.
 */
export async function requestIssuingCa(
  tx: Queryable,
  custody: KeyCustody,
  options: { name: string; algorithm: KeyAlgorithm },
): Promise<CaRequest> {
  if (!KEY_ALGORITHMS.includes(options.algorithm))
    throw new BulwarkError("BW_ERR_VALIDATION", `${options.algorithm} is not an issuing-CA algorithm`);
  await assertNameFree(tx, options.name);
  if (await tx.get(`SELECT id FROM ca_requests WHERE name = ? AND status = 'pending'`, [options.name]))
    throw new BulwarkError("BW_ERR_CONFLICT", `a request for ${options.name} is already pending`);
  const key = await custody.generate(`ca:${options.name}`, options.algorithm);
  const signer = await custody.signer(key.id);
  const subjectDer = encodeName([
    { type: OID.organizationName, value: "Bulwark" },
    { type: OID.commonName, value: options.name },
  ]);
  const csrDer = buildCsrWithSigner({ subjectDer, spki: spkiOf(key.publicKey), signer });
  await recordKeyUse(tx, {
    keyId: key.id,
    caName: options.name,
    purpose: "ca-request",
    subject: options.name,
  });
  const row: CaRequestRow = {
    id: randomUUID(),
    name: options.name,
    algorithm: options.algorithm,
    key_id: key.id,
    csr_pem: toPem("CERTIFICATE REQUEST", csrDer),
    status: "pending",
  };
  await tx.run(
    `INSERT INTO ca_requests (id, name, algorithm, key_id, csr_pem, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    [row.id, row.name, row.algorithm, row.key_id, row.csr_pem, row.status, Date.now()],
  );
  return { id: row.id, name: row.name, algorithm: row.algorithm, csrPem: row.csr_pem, status: row.status };
}

function parseOne(pem: string, what: string): X509Certificate {
  const [der, ...rest] = fromPemAll("CERTIFICATE", pem);
  if (!der || rest.length)
    throw new BulwarkError("BW_ERR_VALIDATION", `${what} must be exactly one PEM certificate`);
  try {
    return new X509Certificate(der);
  } catch {
    throw new BulwarkError("BW_ERR_VALIDATION", `${what} cannot be parsed`);
  }
}

/** The checks an imported issuing-CA certificate must pass, in order (RFC 5280 §6.1 for one link). */
function checkImport(
  request: CaRequestRow,
  issuing: X509Certificate,
  root: X509Certificate,
  custodySpki: Buffer,
) {
  const now = Date.now();
  if (!spkiOf(issuing.publicKey).equals(custodySpki))
    throw new BulwarkError("BW_ERR_VALIDATION", "the certificate is not for the key of this request");
  // RFC 5280 §4.2.1.9 / §4.2.1.3: a CA certificate that may sign certificates.
  if (!issuing.ca) throw new BulwarkError("BW_ERR_VALIDATION", "the certificate is not a CA certificate");
  if (!(issuing.keyUsage ?? ["keyCertSign"]).some((u) => /keyCertSign|Certificate Sign/i.test(u)))
    throw new BulwarkError("BW_ERR_VALIDATION", "the certificate's key usage does not allow keyCertSign");
  if (!root.ca || !root.checkIssued(root) || !root.verify(root.publicKey))
    throw new BulwarkError("BW_ERR_VALIDATION", "the root must be a self-signed CA certificate");
  if (!issuing.checkIssued(root) || !issuing.verify(root.publicKey))
    throw new BulwarkError("BW_ERR_VALIDATION", "the certificate is not signed by the given root");
  for (const cert of [issuing, root])
    if (Date.parse(cert.validFrom) > now || Date.parse(cert.validTo) <= now)
      throw new BulwarkError(
        "BW_ERR_VALIDATION",
        `a certificate is outside its validity period (${cert.subject})`,
      );
  if (request.status !== "pending")
    throw new BulwarkError("BW_ERR_CONFLICT", "the request was already imported");
}

/**
 * Offline root, step 2: the signed issuing-CA certificate and its root are imported. The root is
 * recorded without a key (it stays offline); the issuing CA uses the custody key of the request.
 * TLS listeners trust a newly imported root from the next start.
 */
export async function importIssuingCa(
  tx: Queryable,
  custody: KeyCustody,
  options: { requestId: string; certificatePem: string; rootPem: string },
): Promise<CertificateAuthority> {
  const request = await tx.get<CaRequestRow>(`SELECT * FROM ca_requests WHERE id = ?`, [options.requestId]);
  if (!request) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such CA request");
  const issuing = parseOne(options.certificatePem, "certificatePem");
  const root = parseOne(options.rootPem, "rootPem");
  const key = await custody.get(request.key_id);
  checkImport(request, issuing, root, spkiOf(key.publicKey));
  const known = (await listCas(tx)).find((ca) => ca.x509.fingerprint256 === root.fingerprint256);
  const rootCa =
    known ??
    (await insertCa(tx, {
      id: randomUUID(),
      name: rootName(root),
      role: "root",
      algorithm: rootAlgorithm(root),
      key_id: EXTERNAL_KEY,
      parent_id: null,
      cert_pem: toPem("CERTIFICATE", root.raw),
    }));
  await tx.run(`UPDATE ca_requests SET status = 'imported' WHERE id = ?`, [request.id]);
  return insertCa(tx, {
    id: randomUUID(),
    name: request.name,
    role: "device",
    algorithm: request.algorithm,
    key_id: request.key_id,
    parent_id: rootCa.id,
    cert_pem: toPem("CERTIFICATE", issuing.raw),
  });
}

function rootAlgorithm(root: X509Certificate): KeyAlgorithm {
  const algorithm = keyAlgorithmOf(root.publicKey);
  if (!algorithm) throw new BulwarkError("BW_ERR_VALIDATION", "the root's key algorithm is not supported");
  return algorithm;
}

function rootName(root: X509Certificate): string {
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(root.subject)?.[1] ?? "Offline Root";
  return `${cn} (offline, ${root.fingerprint256.replace(/:/g, "").slice(0, 8).toLowerCase()})`;
}
