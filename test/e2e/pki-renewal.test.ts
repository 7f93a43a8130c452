import assert from "node:assert/strict";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { openAgentStore, saveDeviceKey } from "../../packages/agent/src/device-store.ts";
import { createLog } from "../../packages/agent/src/log.ts";
import { renewOnce } from "../../packages/agent/src/renew.ts";
import { ensureStateDir, statePaths } from "../../packages/agent/src/state.ts";
import { httpsRequest } from "../../packages/sdk/src/https.ts";
import { generateKeyPair, spkiOf } from "../../packages/sdk/src/x509/algorithms.ts";
import { buildCsr } from "../../packages/sdk/src/x509/csr.ts";
import { commonNameOnly } from "../../packages/sdk/src/x509/name.ts";
import { insertDevice } from "../../packages/server/src/fleet/devices.ts";
import { groupByName } from "../../packages/server/src/fleet/groups.ts";
import { byRole, listCas } from "../../packages/server/src/pki/ca.ts";
import { FileKeyCustody } from "../../packages/server/src/pki/file-key-custody.ts";
import { issueCertificate } from "../../packages/server/src/pki/issue.ts";
import { loadMasterKey } from "../../packages/server/src/pki/master-key.ts";
import { deviceExtensions, pkiUrls } from "../../packages/server/src/pki/profiles.ts";
import { enrolDirect } from "../enrol-helpers.ts";
import { createToken, startTestServer, type TestServer, tempDir } from "../helpers.ts";

async function reenroll(
  server: TestServer,
  device: { keyPem: string; certChainPem: string } | undefined,
  csrDer: Buffer,
) {
  const res = await httpsRequest({
    url: new URL("/.well-known/est/simplereenroll", server.httpUrl).href,
    method: "POST",
    ca: server.rootPem,
    ...(device ? { cert: device.certChainPem, key: device.keyPem } : {}),
    headers: { "content-type": "application/pkcs10" },
    body: csrDer.toString("base64"),
  });
  const text = res.body.toString("utf8");
  return {
    status: res.status,
    headers: res.headers,
    text,
    code: res.status >= 400 ? (JSON.parse(text) as { code: string }).code : undefined,
  };
}

const csrFor = (keys = generateKeyPair("ecdsa-p256")) => ({
  keys,
  der: buildCsr({ subjectDer: commonNameOnly("x"), algorithm: "ecdsa-p256", ...keys }),
});
describe("renewal: simplereenroll over mutual TLS and the agent's renewal", () => {
  let server: TestServer;
  const silent = createLog("error", () => {});
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  it("outside the window: 409 with Retry-After; without a client certificate: 401; nothing issued", async () => {
    const device = await enrolDirect(server, await createToken(server));
    const count = async () =>
      Number((await server.store.get<{ n: number }>(`SELECT COUNT(*) AS n FROM certificates`))!.n);
    const before = await count();
    const early = await reenroll(server, device, csrFor().der);
    assert.equal(early.status, 409, early.text);
    assert.equal(early.code, "BW_ERR_RENEWAL_NOT_DUE");
    assert.match(String(early.headers["retry-after"]), /^\d+$/);
    const anonymous = await reenroll(server, undefined, csrFor().der);
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.code, "BW_ERR_CLIENT_CERTIFICATE_REQUIRED");
    assert.equal(await count(), before);
  });

  it("inside the window: renew (same key) and rekey (new key) keep the device identity", async () => {
    const policy = await server.api("PUT", "/api/v1/groups/default/provisioning-policy", {
      keyAlgorithms: ["ecdsa-p256"],
      validityDays: 30,
      renewalWindowDays: 30,
    });
    assert.equal(policy.status, 200, JSON.stringify(policy.body));
    const device = await enrolDirect(server, await createToken(server));
    const sameKey = csrFor({
      privateKey: createPrivateKey(device.keyPem),
      publicKey: new X509Certificate(device.certPem).publicKey,
    });
    const renewedSameKey = await reenroll(server, device, sameKey.der);
    assert.equal(renewedSameKey.status, 200, renewedSameKey.text);
    const sameKeyAudit = await server.store.get<{ details: string }>(
      `SELECT details FROM audit_log WHERE action = 'certificate.renew' ORDER BY seq DESC LIMIT 1`,
    );
    assert.equal((JSON.parse(sameKeyAudit!.details) as { rekey: boolean }).rekey, false);
    const rekey = csrFor();
    const renewed = await reenroll(server, device, rekey.der);
    assert.equal(renewed.status, 200, renewed.text);
    assert.equal(renewed.headers["content-type"], "application/pkcs7-mime; smime-type=certs-only");
    const audit = await server.store.get<{ details: string }>(
      `SELECT details FROM audit_log WHERE action = 'certificate.renew' ORDER BY seq DESC LIMIT 1`,
    );
    const details = JSON.parse(audit!.details) as { rekey: boolean; serial: string; previousSerial: string };
    assert.equal(details.rekey, true);
    const row = await server.store.get<{ device_id: string; status: string }>(
      `SELECT device_id, status FROM certificates WHERE serial = ?`,
      [details.serial],
    );
    assert.equal(row?.device_id, device.deviceId);
    assert.notEqual(details.serial, details.previousSerial);
    assert.ok(spkiOf(rekey.keys.publicKey).length > 0);

    // A revoked certificate cannot renew.
    await server.api("POST", `/api/v1/certificates/${details.previousSerial}/revoke`, {
      reason: "superseded",
    });
    const refused = await reenroll(server, device, csrFor().der);
    assert.equal(refused.status, 401);
    assert.equal(refused.code, "BW_ERR_CERTIFICATE_INVALID");
  });

  it("an expired certificate cannot renew: the server refuses it and the agent stops trying", async () => {
    const dataDir = join(server.dir, "data");
    const custody = new FileKeyCustody({
      dir: join(dataDir, "keys"),
      masterKey: loadMasterKey(dataDir, undefined).key,
    });
    const ca = byRole(await listCas(server.store), "device");
    const group = (await groupByName(server.store, "default"))!;
    const keys = generateKeyPair("ecdsa-p256");
    const spki = spkiOf(keys.publicKey);
    const deviceId = "00000000-0000-4000-8000-000000000001";
    const issued = await server.store.transaction(async (tx) => {
      await insertDevice(tx, { id: deviceId, groupId: group.id, enrolledVia: "token" });
      return issueCertificate(tx, custody, {
        ca,
        subjectDer: commonNameOnly(deviceId),
        subjectText: `CN=${deviceId}`,
        spki,
        extensions: deviceExtensions(
          deviceId,
          spki,
          ca,
          pkiUrls(() => server.httpUrl),
        ),
        validityMs: -60_000,
        deviceId,
      });
    });
    const keyPem = keys.privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    const expired = await reenroll(server, { keyPem, certChainPem: issued.pem + ca.pem }, csrFor(keys).der);
    assert.equal(expired.status, 401);
    assert.equal(expired.code, "BW_ERR_CERTIFICATE_INVALID");
    assert.match(expired.text, /expired; enrol again with the group's enrolment method/);

    const stateDir = tempDir("bulwark-renew-");
    ensureStateDir(stateDir);
    const paths = statePaths(stateDir);
    const store = openAgentStore(stateDir);
    saveDeviceKey(store, keys.privateKey);
    writeFileSync(paths.cert, issued.pem);
    writeFileSync(paths.chain, ca.pem);
    writeFileSync(paths.ca, server.rootPem);
    writeFileSync(
      paths.state,
      JSON.stringify({
        serverUrl: server.httpUrl,
        mqttUrl: server.mqttUrl,
        deviceId,
        rootFingerprint: server.rootFingerprint,
        enrolledAt: "",
      }),
    );
    assert.deepEqual(await renewOnce({ stateDir, store }, silent), { kind: "expired" });
  });
});
