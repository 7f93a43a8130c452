import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { type EnrolledDevice, enrolDirect } from "../enrol-helpers.ts";
import { createToken, startTestServer, type TestServer, tempDir } from "../helpers.ts";

const exec = promisify(execFile);

/** Runs a system tool asynchronously (the server answers in this same process). */
async function tool(command: string, args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await exec(command, args, { timeout: 30_000 });
    return { code: 0, out: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, out: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

describe("interoperability with the system openssl and curl", () => {
  let server: TestServer;
  let device: EnrolledDevice;
  const dir = tempDir("bulwark-interop-");
  const file = (name: string) => join(dir, name);

  before(async () => {
    server = await startTestServer();
    device = await enrolDirect(server, await createToken(server));
    writeFileSync(file("root.pem"), server.rootPem);
    writeFileSync(file("leaf.pem"), device.certPem);
    writeFileSync(file("issuer.pem"), device.certChainPem.slice(device.certPem.length));
  });
  after(async () => {
    await server.close();
  });

  it("the certificate profile carries AIA (OCSP, caIssuers) and a CRL DP, all served", async () => {
    const text = (await tool("openssl", ["x509", "-in", file("leaf.pem"), "-noout", "-text"])).out;
    assert.match(text, /TLS Web Client Authentication/);
    assert.match(text, /URI:urn:uuid:[0-9a-f-]{36}/);
    const ocsp = /OCSP - URI:(\S+)/.exec(text)?.[1];
    const issuers = /CA Issuers - URI:(\S+)/.exec(text)?.[1];
    const crl = /Full Name:\s+URI:(\S+)/.exec(text)?.[1];
    assert.ok(ocsp && issuers && crl, text);
    assert.ok(
      ocsp.startsWith(server.httpUrl) && issuers.startsWith(server.httpUrl) && crl.startsWith(server.httpUrl),
    );
    const caCert = await tool("curl", [
      "-sS",
      "--fail",
      "--cacert",
      file("root.pem"),
      "-o",
      file("issuer.cer"),
      issuers,
    ]);
    assert.equal(caCert.code, 0, caCert.out);
    const der = await tool("openssl", [
      "x509",
      "-inform",
      "DER",
      "-in",
      file("issuer.cer"),
      "-noout",
      "-subject",
    ]);
    assert.match(der.out, /Device Issuing CA/);
    // Serial numbers: 128 random bits (≥ 64 required).
    assert.ok(new X509Certificate(device.certPem).serialNumber.length >= 16);
  });

  it("the API returns the stored certificate as the PEM the device received, and openssl reads it", async () => {
    const serial = new X509Certificate(device.certPem).serialNumber.toLowerCase().replace(/^(00)+/, "");
    const res = await server.api<{ serial: string; pem: string; fingerprint: string }>(
      "GET",
      `/api/v1/certificates/${serial}`,
    );
    assert.equal(res.status, 200);
    assert.equal(res.body.pem, device.certPem);
    assert.equal(
      res.body.fingerprint,
      new X509Certificate(res.body.pem).fingerprint256.replace(/:/g, "").toLowerCase(),
    );
    writeFileSync(file("api.pem"), res.body.pem);
    const text = await tool("openssl", ["x509", "-in", file("api.pem"), "-noout", "-serial"]);
    assert.equal(text.code, 0, text.out);
    assert.match(text.out, new RegExp(`serial=0*${serial}`, "i"));
  });

  it("openssl verifies the issued ECDSA chain, with the served CRL checked", async () => {
    const crlUrl = /Full Name:\s+URI:(\S+)/.exec(
      (await tool("openssl", ["x509", "-in", file("leaf.pem"), "-noout", "-text"])).out,
    )![1]!;
    const fetched = await tool("curl", [
      "-sS",
      "--fail",
      "--cacert",
      file("root.pem"),
      "-o",
      file("crl.der"),
      crlUrl,
    ]);
    assert.equal(fetched.code, 0, fetched.out);
    const pem = await tool("openssl", [
      "crl",
      "-inform",
      "DER",
      "-in",
      file("crl.der"),
      "-out",
      file("crl.pem"),
    ]);
    assert.equal(pem.code, 0, pem.out);
    const verified = await tool("openssl", [
      "verify",
      "-crl_check",
      "-CAfile",
      file("root.pem"),
      "-untrusted",
      file("issuer.pem"),
      "-CRLfile",
      file("crl.pem"),
      "-purpose",
      "sslclient",
      file("leaf.pem"),
    ]);
    assert.equal(verified.code, 0, verified.out);
    assert.match(verified.out, /leaf\.pem: OK/);
  });

  it("openssl ocsp gets good, then revoked after revocation, and the re-signed CRL lists it", async () => {
    const ocspArgs = [
      "ocsp",
      "-issuer",
      file("issuer.pem"),
      "-cert",
      file("leaf.pem"),
      "-url",
      new URL("/pki/ocsp", server.httpUrl).href,
      "-CAfile",
      file("root.pem"),
    ];
    const good = await tool("openssl", ocspArgs);
    assert.equal(good.code, 0, good.out);
    assert.match(good.out, /Response verify OK/);
    assert.match(good.out, /leaf\.pem: good/);

    const serial = new X509Certificate(device.certPem).serialNumber.toLowerCase();
    const revoked = await server.api("POST", `/api/v1/certificates/${serial}/revoke`, {
      reason: "keyCompromise",
    });
    assert.equal(revoked.status, 200);

    const after = await tool("openssl", ocspArgs);
    assert.match(after.out, /Response verify OK/);
    assert.match(after.out, /leaf\.pem: revoked/);
    assert.match(after.out, /Reason: keyCompromise/);

    const crlUrl = /Full Name:\s+URI:(\S+)/.exec(
      (await tool("openssl", ["x509", "-in", file("leaf.pem"), "-noout", "-text"])).out,
    )![1]!;
    await tool("curl", ["-sS", "--fail", "--cacert", file("root.pem"), "-o", file("crl2.der"), crlUrl]);
    const crl = await tool("openssl", [
      "crl",
      "-inform",
      "DER",
      "-in",
      file("crl2.der"),
      "-CAfile",
      file("issuer.pem"),
      "-noout",
      "-text",
    ]);
    assert.match(crl.out, /verify OK/);
    assert.match(crl.out, new RegExp(`Serial Number: ${serial.toUpperCase()}`));
    assert.match(crl.out, /Key Compromise/);
    assert.match(crl.out, /X509v3 CRL Number:\s+\d+/);
  });

  it("curl enrols through EST with a token and openssl pkcs7 -print_certs reads the reply", async () => {
    const token = await createToken(server);
    const key = await tool("openssl", [
      "genpkey",
      "-algorithm",
      "EC",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-out",
      file("dev.key"),
    ]);
    assert.equal(key.code, 0, key.out);
    await tool("openssl", [
      "req",
      "-new",
      "-key",
      file("dev.key"),
      "-subj",
      "/CN=curl-device",
      "-outform",
      "DER",
      "-out",
      file("dev.csr"),
    ]);
    await tool("sh", ["-c", `base64 < '${file("dev.csr")}' > '${file("dev.csr.b64")}'`]);
    const enrolled = await tool("curl", [
      "-sS",
      "--fail-with-body",
      "--tlsv1.3",
      "--cacert",
      file("root.pem"),
      "-u",
      `curl:${token}`,
      "-H",
      "Content-Type: application/pkcs10",
      "--data-binary",
      `@${file("dev.csr.b64")}`,
      "-D",
      file("headers.txt"),
      "-o",
      file("cert.p7.b64"),
      new URL("/.well-known/est/simpleenroll", server.httpUrl).href,
    ]);
    assert.equal(enrolled.code, 0, enrolled.out);
    const headers = (await tool("cat", [file("headers.txt")])).out;
    assert.match(headers, /content-type: application\/pkcs7-mime; smime-type=certs-only/i);
    assert.match(headers, /content-transfer-encoding: base64/i);
    await tool("sh", ["-c", `base64 -d < '${file("cert.p7.b64")}' > '${file("cert.p7")}'`]);
    const printed = await tool("openssl", [
      "pkcs7",
      "-inform",
      "DER",
      "-in",
      file("cert.p7"),
      "-print_certs",
      "-noout",
    ]);
    assert.equal(printed.code, 0, printed.out);
    assert.match(printed.out, /subject=CN ?= ?[0-9a-f-]{36}/);
    assert.match(printed.out, /issuer=O ?= ?Bulwark, CN ?= ?Bulwark Device Issuing CA/);

    // cacerts and csrattrs read the same way.
    await tool("curl", [
      "-sS",
      "--fail",
      "--cacert",
      file("root.pem"),
      "-o",
      file("cacerts.b64"),
      new URL("/.well-known/est/cacerts", server.httpUrl).href,
    ]);
    await tool("sh", ["-c", `base64 -d < '${file("cacerts.b64")}' > '${file("cacerts.p7")}'`]);
    const cas = await tool("openssl", [
      "pkcs7",
      "-inform",
      "DER",
      "-in",
      file("cacerts.p7"),
      "-print_certs",
      "-noout",
    ]);
    assert.match(cas.out, /Bulwark Root CA/);
    assert.match(cas.out, /ML-DSA-65 Root CA/);
    await tool("curl", [
      "-sS",
      "--fail",
      "--cacert",
      file("root.pem"),
      "-D",
      file("attr-headers.txt"),
      "-o",
      file("attrs.b64"),
      new URL("/.well-known/est/csrattrs", server.httpUrl).href,
    ]);
    assert.match((await tool("cat", [file("attr-headers.txt")])).out, /content-type: application\/csrattrs/i);
    await tool("sh", ["-c", `base64 -d < '${file("attrs.b64")}' > '${file("attrs.der")}'`]);
    const attrs = await tool("openssl", ["asn1parse", "-inform", "DER", "-in", file("attrs.der")]);
    assert.match(attrs.out, /id-ecPublicKey/);
    assert.match(attrs.out, /prime256v1/);
    assert.match(attrs.out, /ecdsa-with-SHA256/);
  });
});
