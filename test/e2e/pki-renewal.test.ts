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
import { toPem } from "../../packages/sdk/src/pem.ts";
import { generateKeyPair, spkiOf } from "../../packages/sdk/src/x509/algorithms.ts";
import { parseCrl } from "../../packages/sdk/src/x509/crl.ts";
import { buildCsr } from "../../packages/sdk/src/x509/csr.ts";
import { commonNameOnly } from "../../packages/sdk/src/x509/name.ts";
import { parseCertsOnly } from "../../packages/sdk/src/x509/pkcs7.ts";
import type { ControlEvent } from "../../packages/server/src/control/bus.ts";
import { insertDevice } from "../../packages/server/src/fleet/devices.ts";
import { groupByName } from "../../packages/server/src/fleet/groups.ts";
import { byRole, listCas } from "../../packages/server/src/pki/ca.ts";
import { FileKeyCustody } from "../../packages/server/src/pki/file-key-custody.ts";
import { issueCertificate } from "../../packages/server/src/pki/issue.ts";
import { loadMasterKey } from "../../packages/server/src/pki/master-key.ts";
import { deviceExtensions, pkiUrls } from "../../packages/server/src/pki/profiles.ts";
import { enrolDirect, renewableGroup, renewDirect, serialOfPem } from "../enrol-helpers.ts";
import { createToken, startTestServer, type TestServer, tempDir, waitFor } from "../helpers.ts";
import { closed, connectDevice } from "../mqtt-helpers.ts";

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

/** The leaf of an RFC 7030 §4.2.3 certs-only reply, as PEM. */
const pemOfCertsOnly = (base64: string) =>
  toPem("CERTIFICATE", parseCertsOnly(Buffer.from(base64, "base64"))[0]!);

const csrFor = (keys = generateKeyPair("ecdsa-p256")) => ({
  keys,
  der: buildCsr({ subjectDer: commonNameOnly("x"), algorithm: "ecdsa-p256", ...keys }),
});
describe("renewal: simplereenroll over mutual TLS and the agent's renewal", () => {
  let server: TestServer;
  const silent = createLog("error", () => {});
  before(async () => {
    // A short grace so the superseded certificate's session close is seen within the test.
    server = await startTestServer({ args: ["--renewal-grace-seconds", "3"] });
    await renewableGroup(server, "renewable");
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
    // The renewed certificate renews next: the one it replaced is superseded.
    const current = {
      keyPem: device.keyPem,
      certChainPem: pemOfCertsOnly(renewedSameKey.text) + device.certChainPem.slice(device.certPem.length),
    };
    const rekey = csrFor();
    const renewed = await reenroll(server, current, rekey.der);
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

    // A superseded certificate cannot renew.
    const previous = await server.store.get<{ status: string; revocation_reason: string }>(
      `SELECT status, revocation_reason FROM certificates WHERE serial = ?`,
      [details.previousSerial],
    );
    assert.deepEqual({ ...previous }, { status: "revoked", revocation_reason: "superseded" });
    const refused = await reenroll(server, current, csrFor().der);
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

  it("ten parallel renewals with one certificate issue one new certificate; the old one is superseded", async () => {
    const device = await enrolDirect(server, await createToken(server, "renewable"));
    const oldSerial = serialOfPem(device.certPem);
    const attempts = await Promise.all(
      Array.from({ length: 10 }, () => reenroll(server, device, csrFor().der)),
    );
    const issued = attempts.filter((a) => a.status === 200);
    assert.equal(issued.length, 1, JSON.stringify(attempts.map((a) => a.code ?? a.status)));
    // The others found the certificate superseded: in the same commit (conflict) or already (invalid).
    for (const refused of attempts.filter((a) => a.status !== 200))
      assert.ok(
        ["BW_ERR_CONFLICT", "BW_ERR_CERTIFICATE_INVALID"].includes(refused.code!),
        `${refused.status} ${refused.text}`,
      );
    const rows = await server.store.all<{
      serial: string;
      status: string;
      revocation_reason: string | null;
      renewed_from: string | null;
    }>(
      `SELECT serial, status, revocation_reason, renewed_from FROM certificates WHERE device_id = ? ORDER BY created_at`,
      [device.deviceId],
    );
    const newSerial = serialOfPem(pemOfCertsOnly(issued[0]!.text));
    assert.deepEqual(
      rows.map((r) => ({ ...r })),
      [
        { serial: oldSerial, status: "revoked", revocation_reason: "superseded", renewed_from: null },
        { serial: newSerial, status: "valid", revocation_reason: null, renewed_from: oldSerial },
      ],
    );
    // RFC 5280 §5.3.1: the issuer's CRL lists it as superseded from the renewal's commit on.
    const caId = (await server.store.get<{ ca_id: string }>(
      `SELECT ca_id FROM certificates WHERE serial = ?`,
      [oldSerial],
    ))!.ca_id;
    const crlUrl = new URL(`/pki/crl/${caId}.crl`, server.httpUrl).href;
    const crl = parseCrl((await httpsRequest({ url: crlUrl, method: "GET", ca: server.rootPem })).body);
    assert.deepEqual(
      crl.revoked.filter((r) => r.serialHex === oldSerial).map((r) => r.reason),
      ["superseded"],
    );
  });

  it("revoking a certificate for keyCompromise revokes every certificate renewed from it (an attacker's re-key)", async () => {
    const original = await enrolDirect(server, await createToken(server, "renewable"));
    // Someone with the stolen key re-keys to a key of their own, then renews that.
    const attackers = await renewDirect(server, original, { rekey: true });
    const latest = await renewDirect(server, attackers);
    const [a, b, c] = [original, attackers, latest].map((d) => serialOfPem(d.certPem));
    const res = await server.api<{ previousReason: string; alsoRevoked: string[] }>(
      "POST",
      `/api/v1/certificates/${a}/revoke`,
      { reason: "keyCompromise" },
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.previousReason, "superseded");
    assert.deepEqual(res.body.alsoRevoked, [b, c]);
    const rows = await server.store.all<{ serial: string; status: string; revocation_reason: string }>(
      `SELECT serial, status, revocation_reason FROM certificates WHERE device_id = ? ORDER BY created_at`,
      [original.deviceId],
    );
    assert.deepEqual(
      rows.map((r) => ({ ...r })),
      [a, b, c].map((serial) => ({ serial, status: "revoked", revocation_reason: "keyCompromise" })),
    );
    await assert.rejects(connectDevice(server, latest), /Not authorized/i);
    const again = await server.api<{ code: string }>("POST", `/api/v1/certificates/${a}/revoke`, {
      reason: "keyCompromise",
    });
    assert.equal(again.status, 409);
    assert.equal(again.body.code, "BW_ERR_CONFLICT");
  });

  it("after a renewal the device switches first: the old certificate's session closes after the grace, the new one stays", async () => {
    const device = await enrolDirect(server, await createToken(server, "renewable"));
    const oldSerial = serialOfPem(device.certPem);
    const events: ControlEvent[] = [];
    const unsubscribe = server.control.subscribe((event) => events.push(event));
    const kicked = () => events.some((e) => e.type === "certificate.revoked" && e.serial === oldSerial);
    try {
      const onOld = await connectDevice(server, device);
      const oldClosed = closed(onOld);
      const renewed = await renewDirect(server, device);
      assert.equal(kicked(), false, "the superseded certificate's session is not closed at once");
      assert.ok(onOld.connected);
      // The agent's switch: it reconnects with the new certificate (the broker hands the client id over).
      const onNew = await connectDevice(server, renewed);
      let newClosed = false;
      onNew.on("close", () => {
        newClosed = true;
      });
      await oldClosed;
      await waitFor("the superseded certificate's sessions closed after the grace", async () => kicked());
      assert.equal(newClosed, false, "the close of the old serial left the new session alone");
      assert.ok(onNew.connected);
      await onNew.endAsync();
      await assert.rejects(connectDevice(server, device), /Not authorized/i);
    } finally {
      unsubscribe();
    }
  });

  it("a device that does not switch (someone else renewed its certificate) loses that session after the grace", async () => {
    const device = await enrolDirect(server, await createToken(server, "renewable"));
    const onOld = await connectDevice(server, device);
    let oldClosed = false;
    onOld.once("close", () => {
      oldClosed = true;
    });
    await renewDirect(server, device, { rekey: true });
    assert.ok(onOld.connected);
    await waitFor("the superseded certificate's session closed", async () => oldClosed);
    await assert.rejects(connectDevice(server, device), /Not authorized/i);
  });

  it("a same-key renewal retried after its answer was lost gets the same certificate; another key is refused", async () => {
    const device = await enrolDirect(server, await createToken(server, "renewable"));
    const sameKey = () =>
      csrFor({
        privateKey: createPrivateKey(device.keyPem),
        publicKey: new X509Certificate(device.certPem).publicKey,
      }).der;
    const count = async () =>
      Number(
        (await server.store.get<{ n: number }>(`SELECT COUNT(*) AS n FROM certificates WHERE device_id = ?`, [
          device.deviceId,
        ]))!.n,
      );
    const first = await reenroll(server, device, sameKey());
    assert.equal(first.status, 200, first.text);
    // The device never saw that answer and asks again with its (now superseded) certificate.
    const again = await reenroll(server, device, sameKey());
    assert.equal(again.status, 200, again.text);
    assert.equal(serialOfPem(pemOfCertsOnly(again.text)), serialOfPem(pemOfCertsOnly(first.text)));
    assert.equal(await count(), 2);
    const otherKey = await reenroll(server, device, csrFor().der);
    assert.equal(otherKey.status, 401);
    assert.equal(otherKey.code, "BW_ERR_CERTIFICATE_INVALID");
    assert.equal(await count(), 2);
  });
});
