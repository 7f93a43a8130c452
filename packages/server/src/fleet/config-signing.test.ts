import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { DEFAULT_POLICY_SETTINGS, isConfigMessage } from "@bulwark/sdk/wire/policy";
import { DOCUMENT_SIGNING_EKU, openEnvelope, type SignedEnvelope } from "@bulwark/sdk/wire/signed";
import { deviceTopics } from "@bulwark/sdk/wire/topics";
import { enrolDirect } from "../../../../test/enrol-helpers.ts";
import { createToken, startTestServer, type TestServer, waitFor } from "../../../../test/helpers.ts";
import { connectDevice } from "../../../../test/mqtt-helpers.ts";

describe("signed configuration: what a device receives verifies to its pinned root, and nothing else does", () => {
  let server: TestServer;
  let envelope: SignedEnvelope;
  let root: { pem: string; fingerprint: string };
  let deviceId: string;
  let deviceCertDer: Buffer;

  before(async () => {
    server = await startTestServer();
    root = { pem: server.rootPem, fingerprint: server.rootFingerprint };
    await server.api("POST", "/api/v1/policies/base/versions", { settings: DEFAULT_POLICY_SETTINGS });
    await server.api("PUT", "/api/v1/groups/default/policy", { policy: "base" });
    const device = await enrolDirect(server, await createToken(server));
    deviceId = device.deviceId;
    deviceCertDer = new X509Certificate(device.certPem).raw;
    const client = await connectDevice(server, device);
    const got: Buffer[] = [];
    client.on("message", (_t, payload) => got.push(payload));
    await client.subscribeAsync(deviceTopics(deviceId).config, { qos: 1 });
    await waitFor("config pushed on subscribe", async () => got.length > 0);
    envelope = JSON.parse(got[0]!.toString("utf8")) as SignedEnvelope;
    await client.endAsync();
  });
  after(async () => {
    await server.close();
  });

  it("the signing certificate is a documentSigning end entity of the service CA", () => {
    const leaf = new X509Certificate(Buffer.from(envelope.chain[0]!, "base64"));
    assert.deepEqual(leaf.keyUsage, [DOCUMENT_SIGNING_EKU]);
    assert.equal(leaf.ca, false);
    assert.match(new X509Certificate(Buffer.from(envelope.chain[1]!, "base64")).subject, /Service CA/);
  });

  it("verifies and carries this device's policy", () => {
    const payload = openEnvelope(envelope, root);
    assert.ok(isConfigMessage(payload));
    assert.equal(payload.deviceId, deviceId);
    assert.deepEqual(payload.policy.settings, DEFAULT_POLICY_SETTINGS);
  });

  it("refuses a changed payload, a foreign anchor, a device certificate as signer, and expiry", () => {
    const tampered = Buffer.from(envelope.payload, "base64")
      .toString("utf8")
      .replace('"version":1', '"version":9');
    assert.throws(
      () => openEnvelope({ ...envelope, payload: Buffer.from(tampered).toString("base64") }, root),
      /signature does not verify/,
    );
    assert.throws(() => openEnvelope(envelope, { ...root, fingerprint: "00".repeat(32) }), /pinned root/);
    assert.throws(
      () =>
        openEnvelope({ ...envelope, chain: [deviceCertDer.toString("base64"), envelope.chain[1]!] }, root),
      /not issued by|document signing/,
    );
    assert.throws(() => openEnvelope(envelope, root, Date.now() + 30 * 365 * 24 * 3600 * 1000), /validity/);
    assert.throws(
      () => openEnvelope({ ...envelope, chain: [envelope.chain[0]!] }, root),
      /not a signed envelope/,
    );
  });
});
