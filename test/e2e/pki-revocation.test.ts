import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { httpsRequest } from "../../packages/sdk/src/https.ts";
import { buildOcspRequest, certIdFor } from "../../packages/sdk/src/ocsp/request.ts";
import { parseOcspResponse } from "../../packages/sdk/src/ocsp/response.ts";
import { parseCertificate } from "../../packages/sdk/src/x509/certificate.ts";
import { parseCrl } from "../../packages/sdk/src/x509/crl.ts";
import { enrolDirect } from "../enrol-helpers.ts";
import { CLI, createToken, runCli, startTestServer, type TestServer, waitFor } from "../helpers.ts";
import { connectDevice } from "../mqtt-helpers.ts";

async function fetchDer(
  server: TestServer,
  url: string,
  init: { method?: string; body?: Buffer; type?: string } = {},
) {
  const res = await httpsRequest({
    url,
    method: init.method ?? "GET",
    ca: server.rootPem,
    headers: init.type ? { "content-type": init.type } : {},
    body: init.body,
  });
  return { status: res.status, type: String(res.headers["content-type"]), body: res.body };
}

describe("revocation: CLI, CRL, OCSP, live sessions closed", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  it("`bulwark cert revoke SERIAL --reason keyCompromise` closes the live session and the next connect is refused", async () => {
    const device = await enrolDirect(server, await createToken(server));
    const serial = new X509Certificate(device.certPem).serialNumber.toLowerCase();
    const client = await connectDevice(server, device);
    const closed = new Promise<number>((resolve) => client.once("close", () => resolve(Date.now())));
    const env = {
      BULWARK_URL: server.httpUrl,
      BULWARK_API_KEY: server.adminKey,
      BULWARK_CA_FILE: server.rootPemPath,
    };
    const started = Date.now();
    const revoked = await runCli(CLI, ["cert", "revoke", serial, "--reason", "keyCompromise"], env);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, new RegExp(`revoked ${serial} \\(keyCompromise\\)`));
    const closedAt = await closed;
    client.end(true);
    // Reported, not asserted (no wall-clock assertions): the revocation-to-close latency.
    process.stdout.write(`# session closed ${closedAt - started} ms after the CLI started\n`);
    await assert.rejects(connectDevice(server, device), /Not authorized|5/i);

    const listed = await runCli(CLI, ["cert", "list", "--status", "revoked"], env);
    assert.match(
      listed.stdout,
      new RegExp(`${serial}\\s+Bulwark Device Issuing CA\\s+${device.deviceId}\\s+revoked\\s+keyCompromise`),
    );
    const again = await runCli(CLI, ["cert", "revoke", serial, "--reason", "keyCompromise"], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already revoked \(BW_ERR_CONFLICT\)/);
    const badReason = await runCli(CLI, ["cert", "revoke", serial, "--reason", "certificateHold"], env);
    assert.equal(badReason.code, 2);
    assert.equal(badReason.stderr.trim().split("\n").length, 1);
  });

  it("revocation re-signs the issuer's CRL (higher CRL number) and OCSP answers revoked over GET and POST with the nonce", async () => {
    const device = await enrolDirect(server, await createToken(server));
    const leaf = parseCertificate(new X509Certificate(device.certPem).raw);
    const issuerPem = device.certChainPem.slice(device.certPem.length);
    const issuer = parseCertificate(new X509Certificate(issuerPem).raw);
    const cas = await server.api<{ items: { id: string; name: string }[] }>("GET", "/api/v1/cas");
    const caId = cas.body.items.find((c) => c.name === "Bulwark Device Issuing CA")!.id;
    const before = parseCrl(
      (await fetchDer(server, new URL(`/pki/crl/${caId}.crl`, server.httpUrl).href)).body,
    );

    const ocspUrl = new URL("/pki/ocsp", server.httpUrl).href;
    const nonce = Buffer.from("0123456789abcdef");
    const request = buildOcspRequest(
      [certIdFor(issuer.subjectDer, issuer.spki, leaf.serialHex, "sha256")],
      nonce,
    );
    const good = await fetchDer(server, ocspUrl, {
      method: "POST",
      body: request,
      type: "application/ocsp-request",
    });
    assert.equal(good.type, "application/ocsp-response");
    assert.equal(parseOcspResponse(good.body).responses[0]!.status.kind, "good");

    const res = await server.api("POST", `/api/v1/certificates/${leaf.serialHex}/revoke`, {
      reason: "superseded",
    });
    assert.equal(res.status, 200);

    const after = parseCrl(
      (await fetchDer(server, new URL(`/pki/crl/${caId}.crl`, server.httpUrl).href)).body,
    );
    assert.ok(after.crlNumber! > before.crlNumber!);
    assert.deepEqual(
      after.revoked.filter((r) => r.serialHex === leaf.serialHex).map((r) => r.reason),
      ["superseded"],
    );
    const viaGet = await fetchDer(server, `${ocspUrl}/${encodeURIComponent(request.toString("base64"))}`);
    const viaPost = await fetchDer(server, ocspUrl, {
      method: "POST",
      body: request,
      type: "application/ocsp-request",
    });
    for (const answer of [viaGet, viaPost]) {
      const parsed = parseOcspResponse(answer.body);
      assert.equal(parsed.status, "successful");
      assert.deepEqual(parsed.responses[0]!.status.kind, "revoked");
      assert.equal(parsed.nonceExtnValue?.subarray(2).toString(), nonce.toString());
    }
  });

  it("OCSP: unknown serial → unknown; another CA → unauthorized; garbage → malformedRequest", async () => {
    const device = await enrolDirect(server, await createToken(server));
    const issuer = parseCertificate(
      new X509Certificate(device.certChainPem.slice(device.certPem.length)).raw,
    );
    const ocspUrl = new URL("/pki/ocsp", server.httpUrl).href;
    const post = async (body: Buffer) =>
      parseOcspResponse(
        (await fetchDer(server, ocspUrl, { method: "POST", body, type: "application/ocsp-request" })).body,
      );
    const unknown = await post(
      buildOcspRequest([certIdFor(issuer.subjectDer, issuer.spki, "7777777777777777")]),
    );
    assert.equal(unknown.responses[0]!.status.kind, "unknown");
    const leafAsIssuer = parseCertificate(new X509Certificate(device.certPem).raw);
    const foreign = await post(
      buildOcspRequest([certIdFor(leafAsIssuer.subjectDer, leafAsIssuer.spki, "01")]),
    );
    assert.equal(foreign.status, "unauthorized");
    assert.equal((await post(Buffer.from("garbage"))).status, "malformedRequest");
    const missing = await server.api<{ code: string }>("POST", "/api/v1/certificates/abcdef/revoke", {
      reason: "keyCompromise",
    });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, "BW_ERR_CERTIFICATE_NOT_FOUND");
    const badReason = await server.api<{ code: string }>("POST", "/api/v1/certificates/abcdef/revoke", {
      reason: "nope",
    });
    assert.equal(badReason.status, 400);
  });

  it("CA key use is audit-logged in the transaction of each issuance and CRL", async () => {
    const device = await enrolDirect(server, await createToken(server));
    const serial = new X509Certificate(device.certPem).serialNumber.toLowerCase();
    const uses = await server.store.all<{ details: string }>(
      `SELECT details FROM audit_log WHERE action = 'key.use'`,
    );
    const details = uses.map((u) => JSON.parse(u.details) as { purpose: string; serials?: string[] });
    assert.ok(details.some((d) => d.purpose === "certificate" && d.serials?.includes(serial)));
    assert.ok(details.some((d) => d.purpose === "crl"));
    assert.ok(details.some((d) => d.purpose === "ca-certificate"));
    await waitFor("revocation recorded", async () => {
      const r = await server.store.get(`SELECT seq FROM audit_log WHERE action = 'certificate.revoke'`);
      return r !== undefined;
    });
  });
});
