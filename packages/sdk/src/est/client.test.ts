import assert from "node:assert/strict";
import { randomBytes, X509Certificate } from "node:crypto";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import type { TLSSocket } from "node:tls";
import { type Issued, issue, privateKeyPem } from "../../test/pki.ts";
import { sha256Fingerprint } from "../fingerprint.ts";
import { generateKeyPair, spkiOf } from "../x509/algorithms.ts";
import { buildCertificate, keySigner } from "../x509/certificate.ts";
import { buildCsr, parseCsr, verifyCsr } from "../x509/csr.ts";
import { commonNameOnly } from "../x509/name.ts";
import { certsOnly } from "../x509/pkcs7.ts";
import { EstClientError, fetchPinnedCaCertificates, simpleEnroll, simpleReenroll } from "./client.ts";

// A real EST peer on loopback (RFC 7030 over TLS 1.3), its certificates from the SDK's own builders.
const root = issue({ cn: "EST Test Root", ca: true });
const ca = issue({ cn: "EST Test Issuing CA", ca: true, issuer: root });
const stranger = issue({ cn: "Unrelated CA", ca: true });
const tlsLeaf = issue({
  cn: "localhost",
  ca: false,
  issuer: ca,
  dns: ["localhost"],
  eku: ["1.3.6.1.5.5.7.3.1"],
});
const TOKEN = "enrol-token-1";
const pkcs7 = (certs: Buffer[]) => certsOnly(certs).toString("base64");
let reenrollAnswer: "certificate" | "busy" = "certificate";

/** Issues a certificate for a CSR (the issuing CA signs it), as the server's EST endpoint does. */
function issueFor(csrBase64: string): Buffer {
  const csr = parseCsr(Buffer.from(csrBase64, "base64"));
  assert.ok(verifyCsr(csr));
  return buildCertificate(
    {
      serial: randomBytes(16),
      issuerDer: ca.name,
      subjectDer: csr.subjectDer,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86_400_000),
      spki: csr.spki,
      extensions: [],
    },
    keySigner(ca.algorithm, ca.keys.privateKey),
  );
}

function problem(
  res: import("node:http").ServerResponse,
  status: number,
  code: string,
  detail: string,
  headers = {},
) {
  res.writeHead(status, { "content-type": "application/problem+json", ...headers });
  res.end(JSON.stringify({ type: `/problems/${code}`, title: code, status, code, detail }));
}

let server: Server;
let url: string;
before(async () => {
  server = createServer(
    {
      cert: tlsLeaf.pem + ca.pem,
      key: privateKeyPem(tlsLeaf),
      ca: [root.pem, ca.pem],
      requestCert: true,
      rejectUnauthorized: false, // RFC 7030 §3.3.2: client certificates are optional except for re-enrolment
      minVersion: "TLSv1.3",
    },
    (req, res) => {
      let body = "";
      req.on("data", (c) => {
        body += c;
      });
      req.on("end", () => {
        if (req.url === "/.well-known/est/cacerts") {
          res.writeHead(200, { "content-type": "application/pkcs7-mime; smime-type=certs-only" });
          return res.end(pkcs7([stranger.der, ca.der, root.der]));
        }
        if (req.url === "/.well-known/est/simpleenroll") {
          const basic = Buffer.from(
            String(req.headers.authorization).replace(/^Basic /, ""),
            "base64",
          ).toString();
          if (basic !== `device-1:${TOKEN}`)
            return problem(res, 401, "BW_ERR_UNAUTHENTICATED", "bad enrolment token");
          res.writeHead(200, { "content-type": "application/pkcs7-mime; smime-type=certs-only" });
          return res.end(pkcs7([issueFor(body)]));
        }
        if (req.url === "/.well-known/est/simplereenroll") {
          const socket = req.socket as TLSSocket;
          if (!socket.authorized)
            return problem(res, 401, "BW_ERR_UNAUTHENTICATED", "a client certificate is required");
          if (reenrollAnswer === "busy")
            return problem(res, 503, "BW_ERR_UNAVAILABLE", "try later", { "retry-after": "30" });
          res.writeHead(200, { "content-type": "application/pkcs7-mime; smime-type=certs-only" });
          return res.end(pkcs7([issueFor(body)]));
        }
        problem(res, 404, "BW_ERR_NOT_FOUND", "no such endpoint");
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `https://localhost:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

const csrFor = (keys = generateKeyPair("ecdsa-p256")) => ({
  keys,
  der: buildCsr({ subjectDer: commonNameOnly("device-1"), algorithm: "ecdsa-p256", ...keys }),
});
const estError =
  (pattern: RegExp, extra: Partial<EstClientError> = {}) =>
  (e: unknown) =>
    e instanceof EstClientError &&
    pattern.test(e.message) &&
    Object.entries(extra).every(([k, v]) => (e as unknown as Record<string, unknown>)[k] === v);

describe("est: bootstrap CA distribution with a pinned root (RFC 7030 §4.1.1)", () => {
  it("accepts the pinned root and what chains to it, and drops an unrelated CA", async () => {
    const pem = await fetchPinnedCaCertificates(url, sha256Fingerprint(root.der));
    const certs = pem
      .match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g)!
      .map((p) => new X509Certificate(p));
    assert.deepEqual(
      certs.map((c) => c.subject),
      ["CN=EST Test Root", "CN=EST Test Issuing CA"],
    );
  });

  it("refuses an answer without the pinned root, a pin that is not a self-signed root, and a bad pin", async () => {
    await assert.rejects(
      fetchPinnedCaCertificates(url, "ab".repeat(32)),
      estError(/matches the pinned fingerprint/),
    );
    await assert.rejects(
      fetchPinnedCaCertificates(url, sha256Fingerprint(ca.der)),
      estError(/not a self-signed root/),
    );
    await assert.rejects(fetchPinnedCaCertificates(url, "abc"), estError(/64 hex digits/));
  });
});

describe("est: enrolment and re-enrolment (RFC 7030 §4.2)", () => {
  it("simpleenroll with the token returns a certificate for the CSR's key", async () => {
    const { keys, der } = csrFor();
    const [leaf] = await simpleEnroll({
      serverUrl: url,
      caPem: root.pem,
      csrDer: der,
      username: "device-1",
      token: TOKEN,
    });
    const cert = new X509Certificate(leaf!);
    assert.deepEqual(spkiOf(cert.publicKey), spkiOf(keys.publicKey));
    assert.ok(cert.checkIssued(new X509Certificate(ca.der)));
  });

  it("a wrong token surfaces the server's problem code and status", async () => {
    await assert.rejects(
      simpleEnroll({
        serverUrl: url,
        caPem: root.pem,
        csrDer: csrFor().der,
        username: "device-1",
        token: "wrong",
      }),
      estError(/bad enrolment token \(HTTP 401\)/, { code: "BW_ERR_UNAUTHENTICATED", status: 401 }),
    );
  });

  it("a server not under the given CA is refused at TLS", async () => {
    await assert.rejects(
      simpleEnroll({
        serverUrl: url,
        caPem: stranger.pem,
        csrDer: csrFor().der,
        username: "device-1",
        token: TOKEN,
      }),
      (e: Error & { code?: string }) => e.code === "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
    );
  });

  it("simplereenroll over mutual TLS; a busy server's Retry-After is passed on", async () => {
    const device: Issued = issue({ cn: "device-1", ca: false, issuer: ca });
    const options = {
      serverUrl: url,
      caPem: root.pem,
      csrDer: csrFor(device.keys).der,
      certPem: device.pem + ca.pem,
      keyPem: privateKeyPem(device),
    };
    reenrollAnswer = "certificate";
    const [renewed] = await simpleReenroll(options);
    assert.deepEqual(spkiOf(new X509Certificate(renewed!).publicKey), spkiOf(device.keys.publicKey));
    reenrollAnswer = "busy";
    await assert.rejects(
      simpleReenroll(options),
      estError(/try later/, { status: 503, retryAfterSeconds: 30 }),
    );
  });
});
