import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { httpsRequest } from "../../packages/sdk/src/https.ts";
import { toPem } from "../../packages/sdk/src/pem.ts";
import { deviceTopics } from "../../packages/sdk/src/wire/topics.ts";
import { generateKeyPair } from "../../packages/sdk/src/x509/algorithms.ts";
import { buildCsr } from "../../packages/sdk/src/x509/csr.ts";
import { commonNameOnly } from "../../packages/sdk/src/x509/name.ts";
import {
  type EnrolledDevice,
  enrolDirect,
  renewableGroup,
  renewDirect,
  serialOfPem,
} from "../enrol-helpers.ts";
import { CLI, createToken, runCli, startTestServer, type TestServer, tempDir, waitFor } from "../helpers.ts";
import { connectDevice } from "../mqtt-helpers.ts";

const run = promisify(execFile);

/**
 * Issue #14 (2): every revocation path (device compromise, the wipe after decommission, operator
 * certificates, the certificate route) re-signs the CRL in its own transaction; issue #13 (8): the
 * certificate route revokes device certificates only.
 */
describe("revocation paths: the published CRL follows every revocation at once", () => {
  let server: TestServer;
  let env: Record<string, string>;
  const dir = tempDir("bulwark-crl-");
  const caId = async (name: string) => {
    const cas = await server.api<{ items: { id: string; name: string }[] }>("GET", "/api/v1/cas");
    return cas.body.items.find((c) => c.name === name)!.id;
  };
  /** The CA's published CRL as `openssl crl -text` prints it, its signature checked against `chainPem`. */
  const opensslCrl = async (caName: string, chainPem: string, label: string) => {
    const res = await httpsRequest({
      url: new URL(`/pki/crl/${await caId(caName)}.crl`, server.httpUrl).href,
      method: "GET",
      ca: server.rootPem,
    });
    assert.equal(res.status, 200);
    writeFileSync(join(dir, `${label}.crl`), res.body);
    writeFileSync(join(dir, `${label}-ca.pem`), chainPem);
    const args = ["crl", "-inform", "DER", "-in", join(dir, `${label}.crl`), "-noout", "-text"];
    const { stdout, stderr } = await run("openssl", [...args, "-CAfile", join(dir, `${label}-ca.pem`)]);
    assert.match(stderr + stdout, /verify OK/);
    return stdout;
  };
  const listed = (crlText: string, serial: string) =>
    new RegExp(`Serial Number: 0*${serial.toUpperCase()}\\b`).test(crlText);
  const issuerPem = (device: EnrolledDevice) => device.certChainPem.slice(device.certPem.length);

  before(async () => {
    server = await startTestServer();
    env = {
      BULWARK_URL: server.httpUrl,
      BULWARK_API_KEY: server.adminKey,
      BULWARK_CA_FILE: server.rootPemPath,
    };
    await renewableGroup(server, "renewable");
  });
  after(async () => {
    await server.close();
  });

  it("`device compromise`: openssl crl lists every serial of the device (current and superseded), keyCompromise", async () => {
    const first = await enrolDirect(server, await createToken(server, "renewable"));
    const second = await renewDirect(server, first);
    const serials = [first, second].map((d) => serialOfPem(d.certPem));
    const compromised = await runCli(
      CLI,
      ["device", "compromise", first.deviceId, "--reason", "stolen"],
      env,
    );
    assert.equal(compromised.code, 0, compromised.stderr);
    const crl = await opensslCrl(
      "Bulwark Device Issuing CA",
      server.rootPem + issuerPem(first),
      "compromise",
    );
    for (const serial of serials) assert.ok(listed(crl, serial), `${serial} is on the CRL:\n${crl}`);
    // Audited per certificate, with the CA key's use for the CRL in the same transaction.
    const audit = await server.store.all<{ action: string; target_id: string; details: string }>(
      `SELECT action, target_id, details FROM audit_log WHERE seq > (
         SELECT MAX(seq) FROM audit_log WHERE action = 'certificate.renew' AND target_id = ?) ORDER BY seq`,
      [first.deviceId],
    );
    assert.deepEqual(
      audit.filter((a) => a.action === "certificate.revoke").map((a) => a.target_id),
      serials,
    );
    const lastRevoke = audit.findLastIndex((a) => a.action === "certificate.revoke");
    assert.ok(
      audit.slice(lastRevoke).some((a) => a.action === "key.use" && JSON.parse(a.details).purpose === "crl"),
      "the CRL signature is recorded after the revocations",
    );
    const rows = await server.store.all<{ revocation_reason: string }>(
      `SELECT revocation_reason FROM certificates WHERE device_id = ?`,
      [first.deviceId],
    );
    assert.deepEqual(
      rows.map((r) => r.revocation_reason),
      ["keyCompromise", "keyCompromise"],
    );
  });

  it("`device decommission` and the device's wipe confirmation: openssl crl lists every serial of the device", async () => {
    const first = await enrolDirect(server, await createToken(server, "renewable"));
    const current = await renewDirect(server, first);
    const serials = [first, current].map((d) => serialOfPem(d.certPem));
    const topics = deviceTopics(current.deviceId);
    const client = await connectDevice(server, current);
    await client.subscribeAsync(topics.cmd, { qos: 1 });
    const wipe = new Promise<void>((resolve) => client.once("message", () => resolve()));
    const decommissioned = await runCli(CLI, ["device", "decommission", first.deviceId], env);
    assert.equal(decommissioned.code, 0, decommissioned.stderr);
    await wipe;
    const row = await server.store.get<{ pending_wipe_id: string }>(
      `SELECT pending_wipe_id FROM devices WHERE id = ?`,
      [current.deviceId],
    );
    const wipeId = row!.pending_wipe_id;
    await client.publishAsync(topics.jobStatus(wipeId), JSON.stringify({ state: "wiped", wipeId }), {
      qos: 1,
    });
    await waitFor("device record deleted", async () => {
      const gone = await server.api("GET", `/api/v1/devices/${current.deviceId}`);
      return gone.status === 404;
    });
    client.end(true);
    const crl = await opensslCrl(
      "Bulwark Device Issuing CA",
      server.rootPem + issuerPem(first),
      "decommission",
    );
    for (const serial of serials) assert.ok(listed(crl, serial), `${serial} is on the CRL:\n${crl}`);
  });

  it("the certificate route revokes device certificates only; operator certificates go through their own route (and its CRL)", async () => {
    const analyst = await server.api<{ key: string }>("POST", "/api/v1/api-keys", {
      name: "analyst",
      role: "security-analyst",
    });
    const asAnalyst = { authorization: `Bearer ${analyst.body.key}` };
    const keys = generateKeyPair("ecdsa-p256");
    const csr = buildCsr({ subjectDer: commonNameOnly("op"), algorithm: "ecdsa-p256", ...keys });
    const issued = await server.api<{ serial: string; chainPem: string }>(
      "POST",
      "/api/v1/operator-certificates",
      {
        csr: toPem("CERTIFICATE REQUEST", csr),
      },
    );
    assert.equal(issued.status, 201);
    // The server's own certificates (TLS, config signer, OCSP responders) carry no device id.
    const all = await server.api<{ items: { serial: string; deviceId: string | null; kind: string }[] }>(
      "GET",
      "/api/v1/certificates?status=valid&limit=1000",
    );
    const own = all.body.items.filter((c) => c.deviceId === null && c.serial !== issued.body.serial);
    assert.ok(own.length >= 3, "TLS, config signer and OCSP responder certificates are listed");
    for (const serial of [issued.body.serial, ...own.map((c) => c.serial)]) {
      const refused = await server.api<{ code: string; detail: string }>(
        "POST",
        `/api/v1/certificates/${serial}/revoke`,
        { reason: "keyCompromise" },
        asAnalyst,
      );
      assert.equal(refused.status, 403, JSON.stringify(refused.body));
      assert.equal(refused.body.code, "BW_ERR_FORBIDDEN");
      assert.match(refused.body.detail, /is a (operator|service) certificate/);
      const still = await server.api<{ status: string }>("GET", `/api/v1/certificates/${serial}`);
      assert.equal(still.body.status, "valid");
    }
    // Listed with their kind, and filtered by it.
    assert.deepEqual([...new Set(own.map((c) => c.kind))], ["service"]);
    const operator = await server.api<{ kind: string }>("GET", `/api/v1/certificates/${issued.body.serial}`);
    assert.equal(operator.body.kind, "operator");
    const services = await server.api<{ items: { serial: string }[] }>(
      "GET",
      "/api/v1/certificates?kind=service&status=valid&limit=1000",
    );
    assert.deepEqual(
      services.body.items.map((c) => c.serial).sort(),
      all.body.items
        .filter((c) => c.kind === "service")
        .map((c) => c.serial)
        .sort(),
    );
    const cli = await runCli(CLI, ["cert", "list", "--kind", "operator"], env);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, new RegExp(`${issued.body.serial}\\s+Bulwark Operator CA.*\\soperator\\n`));
    // Positive control: the same caller revokes a device certificate through the same route.
    const device = await enrolDirect(server, await createToken(server));
    const deviceSerial = serialOfPem(device.certPem);
    const revoked = await server.api(
      "POST",
      `/api/v1/certificates/${deviceSerial}/revoke`,
      { reason: "keyCompromise" },
      asAnalyst,
    );
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));

    // The operator certificate's own route revokes it, and the Operator CA's CRL lists it at once.
    const deleted = await server.api("DELETE", `/api/v1/operator-certificates/${issued.body.serial}`);
    assert.equal(deleted.status, 204);
    const operatorCaPem = issued.body.chainPem.slice(
      issued.body.chainPem.indexOf("-----END CERTIFICATE-----") + 26,
    );
    const crl = await opensslCrl("Bulwark Operator CA", server.rootPem + operatorCaPem, "operator");
    assert.ok(listed(crl, issued.body.serial), crl);
    assert.match(crl, /Cessation Of Operation/);
  });
});
