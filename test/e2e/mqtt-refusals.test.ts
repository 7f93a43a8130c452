import assert from "node:assert/strict";
import { randomBytes, X509Certificate } from "node:crypto";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { OID } from "../../packages/sdk/src/der/oids.ts";
import { toPem } from "../../packages/sdk/src/pem.ts";
import { deviceTopics } from "../../packages/sdk/src/wire/topics.ts";
import { generateKeyPair, spkiOf } from "../../packages/sdk/src/x509/algorithms.ts";
import { buildCertificate, keySigner } from "../../packages/sdk/src/x509/certificate.ts";
import {
  basicConstraints,
  extKeyUsage,
  keyUsage,
  subjectAltName,
} from "../../packages/sdk/src/x509/extensions.ts";
import { commonNameOnly } from "../../packages/sdk/src/x509/name.ts";
import { byRole, listCas } from "../../packages/server/src/pki/ca.ts";
import { FileKeyCustody } from "../../packages/server/src/pki/file-key-custody.ts";
import { issueCertificate } from "../../packages/server/src/pki/issue.ts";
import { loadMasterKey } from "../../packages/server/src/pki/master-key.ts";
import { deviceExtensions, pkiUrls } from "../../packages/server/src/pki/profiles.ts";
import { type EnrolledDevice, enrolDirect } from "../enrol-helpers.ts";
import { createToken, startTestServer, type TestServer, waitFor } from "../helpers.ts";
import { connectWith, deviceOptions } from "../mqtt-helpers.ts";

const options = (
  server: TestServer,
  device: Partial<EnrolledDevice> & { deviceId: string },
  clientId = device.deviceId,
) => deviceOptions(server, device, { clientId });
const connect = connectWith;

describe("MQTT: identity from the certificate only, confined to its own topics", () => {
  let server: TestServer;
  let alice: EnrolledDevice;
  let bob: EnrolledDevice;
  before(async () => {
    server = await startTestServer();
    alice = await enrolDirect(server, await createToken(server));
    bob = await enrolDirect(server, await createToken(server));
  });
  after(async () => {
    await server.close();
  });

  it("a client without a certificate is refused during the TLS handshake", async () => {
    await assert.rejects(
      connect(server, { ...options(server, alice), key: undefined, cert: undefined }),
      /certificate required|alert|socket hang up|ECONNRESET|closed/i,
    );
  });

  it("a client with a certificate from another CA is refused during the TLS handshake", async () => {
    const rogueCa = generateKeyPair("ecdsa-p256");
    const leafKeys = generateKeyPair("ecdsa-p256");
    const der = buildCertificate(
      {
        serial: randomBytes(16),
        issuerDer: commonNameOnly("Rogue CA"),
        subjectDer: commonNameOnly(alice.deviceId),
        notBefore: new Date(Date.now() - 60_000),
        notAfter: new Date(Date.now() + 3_600_000),
        spki: spkiOf(leafKeys.publicKey),
        extensions: [
          basicConstraints(false),
          keyUsage(["digitalSignature"]),
          extKeyUsage([OID.clientAuth]),
          subjectAltName({ uris: [`urn:uuid:${alice.deviceId}`] }),
        ],
      },
      keySigner("ecdsa-p256", rogueCa.privateKey),
    );
    const forged = {
      deviceId: alice.deviceId,
      keyPem: leafKeys.privateKey.export({ type: "pkcs8", format: "pem" }) as string,
      certChainPem: toPem("CERTIFICATE", der),
    };
    await assert.rejects(
      connect(server, options(server, forged)),
      /unknown ca|alert|socket hang up|ECONNRESET|closed/i,
    );
  });

  it("a device certificate issued by the service CA (TLS accepts its chain) is refused (CONNACK 5)", async () => {
    const dataDir = join(server.dir, "data");
    const custody = new FileKeyCustody({
      dir: join(dataDir, "keys"),
      masterKey: loadMasterKey(dataDir, undefined).key,
    });
    const serviceCa = byRole(await listCas(server.store), "service");
    const keys = generateKeyPair("ecdsa-p256");
    const spki = spkiOf(keys.publicKey);
    // Recorded as a valid certificate of alice's: only the direct-issuer check can refuse it.
    const issued = await server.store.transaction((tx) =>
      issueCertificate(tx, custody, {
        ca: serviceCa,
        subjectDer: commonNameOnly(alice.deviceId),
        subjectText: `CN=${alice.deviceId}`,
        spki,
        extensions: deviceExtensions(
          alice.deviceId,
          spki,
          serviceCa,
          pkiUrls(() => server.httpUrl),
        ),
        validityMs: 3_600_000,
        deviceId: alice.deviceId,
      }),
    );
    const misissued = {
      deviceId: alice.deviceId,
      keyPem: keys.privateKey.export({ type: "pkcs8", format: "pem" }) as string,
      certChainPem: issued.pem + serviceCa.pem,
    };
    await assert.rejects(connect(server, options(server, misissued)), /Not authorized/i);
  });

  it("a client id other than the certificate's device id is rejected (CONNACK 2)", async () => {
    await assert.rejects(connect(server, options(server, alice, bob.deviceId)), /Identifier rejected/i);
  });

  it("subscribing to another device's topic or with wildcards is refused; own topics are granted", async () => {
    const client = await connect(server, options(server, alice));
    try {
      // mqtt.js rejects when any return code is 0x80 and attaches the SUBACK packet.
      const suback = await client
        .subscribeAsync(
          Object.fromEntries(
            [deviceTopics(alice.deviceId).cmd, deviceTopics(bob.deviceId).cmd, "bw/v1/d/+/cmd", "#"].map(
              (topic) => [topic, { qos: 1 as const }],
            ),
          ),
        )
        .then(
          () => assert.fail("some filters must be refused"),
          (error: { packet?: { granted: number[] } }) => error.packet,
        );
      assert.deepEqual(suback?.granted, [1, 128, 128, 128]);
      assert.ok(client.connected, "the session stays up after refused filters");
    } finally {
      await client.endAsync();
    }
  });

  it("publishing to another device's topic closes the session and delivers nothing", async () => {
    const received: string[] = [];
    const bobClient = await connect(server, options(server, bob));
    bobClient.on("message", (topic) => received.push(topic));
    await bobClient.subscribeAsync(deviceTopics(bob.deviceId).cmd, { qos: 1 });
    const aliceClient = await connect(server, options(server, alice));
    const closed = new Promise<void>((resolve) => aliceClient.once("close", () => resolve()));
    aliceClient.publish(deviceTopics(bob.deviceId).cmd, "reboot", { qos: 1 });
    aliceClient.publish(deviceTopics(bob.deviceId).meta, JSON.stringify({ model: "spoofed" }), { qos: 1 });
    await closed;
    aliceClient.end(true);
    const bobDevice = await server.api<{ metadata: { model?: string } }>(
      "GET",
      `/api/v1/devices/${bob.deviceId}`,
    );
    assert.notEqual(bobDevice.body.metadata.model, "spoofed");
    assert.deepEqual(received, []);
    // Bob's own topics still work end to end: the server can reach him.
    await server.broker.publishToDevice(bob.deviceId, "cmd", { command: "ping" });
    await waitFor("bob receives his own command", async () => received.length === 1);
    assert.deepEqual(received, [deviceTopics(bob.deviceId).cmd]);
    await bobClient.endAsync();
  });

  it("retained publishes are refused; extra metadata fields are dropped and counted", async () => {
    const client = await connect(server, options(server, alice));
    await client.publishAsync(
      deviceTopics(alice.deviceId).meta,
      JSON.stringify({ model: "cam-2", owner: "Jane Doe", gps: [1, 2] }),
      { qos: 1 },
    );
    const device = await waitFor("metadata stored", async () => {
      const res = await server.api<{ metadata: Record<string, unknown>; droppedFields: number }>(
        "GET",
        `/api/v1/devices/${alice.deviceId}`,
      );
      return res.body.metadata.model === "cam-2" ? res.body : undefined;
    });
    assert.deepEqual(device.metadata, { model: "cam-2" });
    assert.equal(device.droppedFields, 2);
    const closed = new Promise<void>((resolve) => client.once("close", () => resolve()));
    client.publish(deviceTopics(alice.deviceId).meta, JSON.stringify({ model: "retained" }), {
      qos: 1,
      retain: true,
    });
    await closed;
    client.end(true);
  });

  it("a device whose certificate is no longer valid in the registry is refused (CONNACK 5)", async () => {
    const carol = await enrolDirect(server, await createToken(server));
    // Through the revocation service, the one writer of certificate status (issue #14 (2)).
    const serial = new X509Certificate(carol.certPem).serialNumber.toLowerCase();
    const revoked = await server.api("POST", `/api/v1/certificates/${serial}/revoke`, {
      reason: "keyCompromise",
    });
    assert.equal(revoked.status, 200);
    await assert.rejects(connect(server, options(server, carol)), /Not authorized/i);
  });
});
