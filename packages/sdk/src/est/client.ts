import { X509Certificate } from "node:crypto";
import { normaliseFingerprint, sha256Fingerprint } from "../fingerprint.ts";
import { httpsRequest } from "../https.ts";
import { toPem } from "../pem.ts";
import { parseCertsOnly } from "../x509/pkcs7.ts";

/** An EST client error, with the HTTP problem's code when the server sent one. */
export class EstClientError extends Error {
  readonly code: string | undefined;
  readonly status: number | undefined;
  /** RFC 9110 §10.2.3 Retry-After in seconds, when the server sent one. */
  readonly retryAfterSeconds: number | undefined;
  constructor(message: string, code?: string, status?: number, retryAfterSeconds?: number) {
    super(message);
    this.name = "EstClientError";
    this.code = code;
    this.status = status;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

const PKCS7 = "application/pkcs7-mime";

function decodeCertsOnlyBody(body: Buffer): Buffer[] {
  // RFC 7030 §4.1.3 / §4.2.3: base64-encoded DER certs-only PKCS#7.
  return parseCertsOnly(Buffer.from(body.toString("ascii").replace(/\s+/g, ""), "base64"));
}

function problemOf(status: number, body: Buffer, retryAfter?: unknown): EstClientError {
  const seconds = typeof retryAfter === "string" && /^\d+$/.test(retryAfter) ? Number(retryAfter) : undefined;
  try {
    const problem = JSON.parse(body.toString("utf8")) as { code?: string; title?: string; detail?: string };
    return new EstClientError(
      `${problem.detail ?? problem.title ?? "request failed"} (HTTP ${status})`,
      problem.code,
      status,
      seconds,
    );
  } catch {
    return new EstClientError(`request failed (HTTP ${status})`, undefined, status);
  }
}

/**
 * RFC 7030 §4.1.1 bootstrap distribution of CA certificates: fetch /cacerts without verifying the
 * server, then accept the answer only if it holds a self-signed root whose SHA-256 fingerprint
 * matches the one given out of band, and every other certificate chains to it.
 */
export async function fetchPinnedCaCertificates(
  serverUrl: string,
  pinnedFingerprint: string,
): Promise<string> {
  const pin = normaliseFingerprint(pinnedFingerprint);
  if (!pin) throw new EstClientError("the CA fingerprint must be 64 hex digits (SHA-256)");
  const res = await httpsRequest({
    url: new URL("/.well-known/est/cacerts", serverUrl).href,
    insecureBootstrap: true,
  });
  if (res.status !== 200) throw problemOf(res.status, res.body);
  const certs = decodeCertsOnlyBody(res.body).map((der) => ({ der, x509: new X509Certificate(der) }));
  const root = certs.find((c) => sha256Fingerprint(c.der) === pin);
  if (!root) throw new EstClientError("no CA certificate from the server matches the pinned fingerprint");
  if (!root.x509.checkIssued(root.x509) || !root.x509.verify(root.x509.publicKey))
    throw new EstClientError("the pinned CA certificate is not a self-signed root");
  const trusted = [root];
  for (let grew = true; grew; ) {
    grew = false;
    for (const c of certs) {
      if (trusted.includes(c)) continue;
      const issuer = trusted.find((t) => c.x509.checkIssued(t.x509) && c.x509.verify(t.x509.publicKey));
      if (issuer && c.x509.ca) {
        trusted.push(c);
        grew = true;
      }
    }
  }
  return trusted.map((c) => toPem("CERTIFICATE", c.der)).join("");
}

/** RFC 7030 §4.2.1 simpleenroll with HTTP Basic (token as password, §3.2.3); returns PEM chain, leaf first. */
export async function simpleEnroll(options: {
  serverUrl: string;
  caPem: string;
  csrDer: Buffer;
  username: string;
  token: string;
}): Promise<string[]> {
  const res = await httpsRequest({
    url: new URL("/.well-known/est/simpleenroll", options.serverUrl).href,
    method: "POST",
    ca: options.caPem,
    headers: {
      "content-type": "application/pkcs10",
      "content-transfer-encoding": "base64",
      authorization: `Basic ${Buffer.from(`${options.username}:${options.token}`).toString("base64")}`,
    },
    body: options.csrDer.toString("base64"),
  });
  if (res.status !== 200) throw problemOf(res.status, res.body);
  if (!String(res.headers["content-type"] ?? "").startsWith(PKCS7))
    throw new EstClientError("the server did not answer with a PKCS#7 certs-only body");
  return decodeCertsOnlyBody(res.body).map((der) => toPem("CERTIFICATE", der));
}

/**
 * RFC 7030 §4.2.2 simplereenroll: renew (same key) or rekey (new key in the CSR), authenticated by
 * the current certificate and key over mutual TLS (§3.3.2). Returns the PEM certificates, leaf first.
 */
export async function simpleReenroll(options: {
  serverUrl: string;
  caPem: string;
  csrDer: Buffer;
  certPem: string;
  keyPem: string;
}): Promise<string[]> {
  const res = await httpsRequest({
    url: new URL("/.well-known/est/simplereenroll", options.serverUrl).href,
    method: "POST",
    ca: options.caPem,
    cert: options.certPem,
    key: options.keyPem,
    headers: { "content-type": "application/pkcs10", "content-transfer-encoding": "base64" },
    body: options.csrDer.toString("base64"),
  });
  if (res.status !== 200) throw problemOf(res.status, res.body, res.headers["retry-after"]);
  if (!String(res.headers["content-type"] ?? "").startsWith(PKCS7))
    throw new EstClientError("the server did not answer with a PKCS#7 certs-only body");
  return decodeCertsOnlyBody(res.body).map((der) => toPem("CERTIFICATE", der));
}
