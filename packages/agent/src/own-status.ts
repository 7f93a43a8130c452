import { randomBytes, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { httpsRequest } from "@bulwark/sdk/https";
import { buildOcspRequest, certIdFor } from "@bulwark/sdk/ocsp/request";
import { type CertStatus, parseOcspResponse } from "@bulwark/sdk/ocsp/response";
import { publicKeyFromSpki, verifySignature } from "@bulwark/sdk/x509/algorithms";
import { parseCertificate } from "@bulwark/sdk/x509/certificate";
import { statePaths } from "./state.ts";

/** What the issuing CA's OCSP responder says of this device's certificate, or why it could not be asked. */
export type OwnStatus = CertStatus | { kind: "unavailable"; detail: string };

/** RFC 5280 §4.2.2.1: the OCSP responder named in the certificate's Authority Information Access. */
export function ocspUrlOf(cert: X509Certificate): string | undefined {
  return /^OCSP - URI:(\S+)$/m.exec(cert.infoAccess ?? "")?.[1];
}

/**
 * Asks the OCSP responder in the device certificate's AIA for its status (RFC 6960), over HTTPS
 * trusted through the CA bundle pinned at enrolment. The answer is used only to tell the operator
 * why the server refuses the device; it is checked all the same (nonce, serial, signature by the
 * issuer or a responder it certified), so a forged "good" cannot mislead the log.
 */
export async function ownCertificateStatus(stateDir: string, timeoutMs = 10_000): Promise<OwnStatus> {
  try {
    const paths = statePaths(stateDir);
    const leafPem = readFileSync(paths.cert, "utf8");
    const leaf = new X509Certificate(leafPem);
    const url = ocspUrlOf(leaf);
    if (!url) return { kind: "unavailable", detail: "the certificate names no OCSP responder" };
    const issuer = parseCertificate(new X509Certificate(readFileSync(paths.chain, "utf8")).raw);
    const serialHex = parseCertificate(leaf.raw).serialHex;
    const nonce = randomBytes(16);
    const res = await httpsRequest({
      url,
      method: "POST",
      ca: readFileSync(paths.ca, "utf8"),
      headers: { "content-type": "application/ocsp-request", accept: "application/ocsp-response" },
      body: buildOcspRequest([certIdFor(issuer.subjectDer, issuer.spki, serialHex, "sha256")], nonce),
      timeoutMs,
      maxResponseBytes: 64 * 1024,
    });
    if (res.status !== 200)
      return { kind: "unavailable", detail: `OCSP responder answered HTTP ${res.status}` };
    return checkedStatus(res.body, { serialHex, nonce, issuer });
  } catch (error) {
    return { kind: "unavailable", detail: (error as Error).message };
  }
}

function checkedStatus(
  der: Buffer,
  expected: { serialHex: string; nonce: Buffer; issuer: ReturnType<typeof parseCertificate> },
): OwnStatus {
  const parsed = parseOcspResponse(der);
  if (parsed.status !== "successful") return { kind: "unavailable", detail: `OCSP ${parsed.status}` };
  // RFC 8954 §2.1: the nonce extension value echoes the request's OCTET STRING (04 len nonce).
  if (!parsed.nonceExtnValue?.subarray(-expected.nonce.length).equals(expected.nonce))
    return { kind: "unavailable", detail: "OCSP response without our nonce" };
  const single = parsed.responses.find((r) => r.serialHex === expected.serialHex);
  if (!single) return { kind: "unavailable", detail: "OCSP response is not about this certificate" };
  if (!signedByIssuerOrItsResponder(parsed, expected.issuer))
    return { kind: "unavailable", detail: "OCSP response signature does not verify" };
  return single.status;
}

/** RFC 6960 §4.2.2.2: signed by the issuing CA itself or by a responder certificate it issued. */
function signedByIssuerOrItsResponder(
  parsed: ReturnType<typeof parseOcspResponse>,
  issuer: ReturnType<typeof parseCertificate>,
): boolean {
  if (!parsed.tbs || !parsed.signature || !parsed.signatureOid) return false;
  const issuerKey = publicKeyFromSpki(issuer.spki);
  const signers = [issuer.spki];
  for (const der of parsed.certificates) {
    const responder = parseCertificate(der);
    if (
      responder.issuerDer.equals(issuer.subjectDer) &&
      verifySignature(responder.signatureOid, issuerKey, responder.tbs, responder.signature)
    )
      signers.push(responder.spki);
  }
  return signers.some((spki) =>
    verifySignature(parsed.signatureOid!, publicKeyFromSpki(spki), parsed.tbs!, parsed.signature!),
  );
}
