import { createHash } from "node:crypto";
import { type CertId, type CertIdHash, OcspError, parseOcspRequest } from "@bulwark/sdk/ocsp/request";
import { buildOcspResponse, type CertStatus, ocspErrorResponse } from "@bulwark/sdk/ocsp/response";
import { spkiPublicKeyBits } from "@bulwark/sdk/x509/certificate";
import type { RevocationReason } from "@bulwark/sdk/x509/crl";
import { keyIdentifier } from "@bulwark/sdk/x509/extensions";
import { commonNameOnly } from "@bulwark/sdk/x509/name";
import type { CustodySigner, KeyCustody } from "../custody/key-custody.ts";
import type { Queryable, Store } from "../store/store.ts";
import type { CertificateAuthority } from "./ca.ts";
import { issuingCas } from "./crl-publisher.ts";
import { certificateStatus, issueCertificate } from "./issue.ts";
import { ocspResponderExtensions } from "./profiles.ts";
import { storedCertificate } from "./stored-certificate.ts";

/** A delegated responder (RFC 6960 §2.6) for one issuing CA: its own custody key and certificate. */
export interface Responder {
  ca: CertificateAuthority;
  signer: CustodySigner;
  certDer: Buffer;
  keyHash: Buffer;
}

const RESPONDER_VALIDITY_MS = 30 * 24 * 3600 * 1000;
const RESPONDER_RENEW_BEFORE_MS = 7 * 24 * 3600 * 1000;
/** How long a response may be relied on (RFC 6960 §4.2.2.1 nextUpdate). */
const RESPONSE_VALIDITY_MS = 3600 * 1000;

async function loadResponder(
  store: Store,
  custody: KeyCustody,
  ca: CertificateAuthority,
): Promise<Responder | undefined> {
  const row = await store.get<{ value: string }>(`SELECT value FROM settings WHERE key = ?`, [
    `ocsp.responder:${ca.id}`,
  ]);
  if (!row) return undefined;
  const stored = JSON.parse(row.value) as { keyId: string; serial: string };
  const cert = await storedCertificate(store, stored.serial);
  if (!cert || cert.notAfter - Date.now() < RESPONDER_RENEW_BEFORE_MS) return undefined;
  const signer = await custody.signer(stored.keyId);
  const key = await custody.get(stored.keyId);
  const spki = key.publicKey.export({ type: "spki", format: "der" });
  return {
    ca,
    signer,
    certDer: cert.der,
    keyHash: keyIdentifier(spkiPublicKeyBits(spki)),
  };
}

async function issueResponder(
  store: Store,
  custody: KeyCustody,
  ca: CertificateAuthority,
): Promise<Responder> {
  const key = await custody.generate(`ocsp:${ca.name}`, ca.algorithm);
  const spki = key.publicKey.export({ type: "spki", format: "der" });
  const issued = await store.transaction(async (tx) => {
    const certificate = await issueCertificate(tx, custody, {
      ca,
      subjectDer: commonNameOnly(`${ca.name} OCSP Responder`),
      subjectText: `ocsp-responder:${ca.name}`,
      spki,
      extensions: ocspResponderExtensions(spki, ca.keyIdentifier),
      validityMs: RESPONDER_VALIDITY_MS,
      deviceId: null,
    });
    await tx.run(`DELETE FROM settings WHERE key = ?`, [`ocsp.responder:${ca.id}`]);
    await tx.run(`INSERT INTO settings (key, value) VALUES (?, ?)`, [
      `ocsp.responder:${ca.id}`,
      JSON.stringify({ keyId: key.id, serial: certificate.serial }),
    ]);
    return certificate;
  });
  return {
    ca,
    signer: await custody.signer(key.id),
    certDer: issued.der,
    keyHash: keyIdentifier(spkiPublicKeyBits(spki)),
  };
}

/** One responder per issuing CA, reused across restarts and re-issued before it expires. */
export async function ensureOcspResponders(
  store: Store,
  custody: KeyCustody,
  cas: CertificateAuthority[],
): Promise<Responder[]> {
  const out: Responder[] = [];
  for (const ca of issuingCas(cas))
    out.push((await loadResponder(store, custody, ca)) ?? (await issueResponder(store, custody, ca)));
  return out;
}

const digest = (hash: CertIdHash, data: Buffer) => createHash(hash).update(data).digest();

// RFC 6960 §4.1.1: issuerNameHash over the issuer's DN, issuerKeyHash over its public key bits.
function issuedBy(id: CertId, ca: CertificateAuthority): boolean {
  return (
    digest(id.hash, ca.subjectDer).equals(id.issuerNameHash) &&
    digest(id.hash, spkiPublicKeyBits(ca.spki)).equals(id.issuerKeyHash)
  );
}

async function statusOf(db: Queryable, id: CertId, ca: CertificateAuthority): Promise<CertStatus> {
  const row = /^[0-9a-f]{1,40}$/.test(id.serialHex) ? await certificateStatus(db, id.serialHex) : undefined;
  // RFC 6960 §2.2: "unknown" when the responder does not know the certificate.
  if (!row || row.ca_id !== ca.id) return { kind: "unknown" };
  if (row.status === "revoked")
    return {
      kind: "revoked",
      revokedAt: new Date(Number(row.revoked_at)),
      reason: (row.revocation_reason ?? "unspecified") as RevocationReason,
    };
  return { kind: "good" };
}

/**
 * RFC 6960 §2.1–§2.3: answers an OCSPRequest from the certificate registry. Each request in the
 * list is answered; the response is signed by the responder of the CA that issued the first one.
 * A request for no CA we run is `unauthorized`; an unparseable one `malformedRequest`.
 */
export async function answerOcsp(db: Queryable, responders: Responder[], der: Buffer): Promise<Buffer> {
  let request: ReturnType<typeof parseOcspRequest>;
  try {
    request = parseOcspRequest(der);
  } catch (error) {
    if (error instanceof OcspError) return ocspErrorResponse("malformedRequest");
    throw error;
  }
  const responder = responders.find((r) => request.certIds.some((id) => issuedBy(id, r.ca)));
  if (!responder) return ocspErrorResponse("unauthorized");
  const now = new Date();
  const responses = [];
  for (const id of request.certIds) {
    const status: CertStatus = issuedBy(id, responder.ca)
      ? await statusOf(db, id, responder.ca)
      : { kind: "unknown" };
    responses.push({
      certIdDer: id.der,
      status,
      thisUpdate: now,
      nextUpdate: new Date(now.getTime() + RESPONSE_VALIDITY_MS),
    });
  }
  return buildOcspResponse({
    responderKeyHash: responder.keyHash,
    responderCertDer: responder.certDer,
    producedAt: now,
    responses,
    // RFC 8954 §2.1 / RFC 6960 §4.4.1: the nonce is echoed.
    nonceExtnValue: request.nonce,
    signer: responder.signer,
  });
}
