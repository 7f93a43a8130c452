import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
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
import { type EnrolledDevice, enrolDirect } from "../enrol-helpers.ts";
import { createToken, startTestServer, type TestServer, tempDir, waitFor } from "../helpers.ts";
import { connectDevice } from "../mqtt-helpers.ts";

const exec = promisify(execFile);

/** Runs a Debian mosquitto client; resolves with its exit code and output (never throws). */
async function mosquitto(tool: "mosquitto_sub" | "mosquitto_pub", args: string[]) {
  try {
    const { stdout, stderr } = await exec(tool, args, { timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

describe("interop: Debian's mosquitto clients against our broker", () => {
  let server: TestServer;
  let dir: string;
  const files = (name: string, device: { keyPem: string; certChainPem: string }) => {
    writeFileSync(join(dir, `${name}.key`), device.keyPem, { mode: 0o600 });
    writeFileSync(join(dir, `${name}.crt`), device.certChainPem);
    return ["--key", join(dir, `${name}.key`), "--cert", join(dir, `${name}.crt`)];
  };
  const common = (deviceId: string) => [
    "-h",
    "127.0.0.1",
    "-p",
    String(server.mqttPort),
    "--cafile",
    server.rootPemPath,
    "--tls-version",
    "tlsv1.3",
    "-V",
    "mqttv311",
    "-i",
    deviceId,
    "-k",
    "30",
  ];

  before(async () => {
    server = await startTestServer();
    dir = tempDir("bulwark-interop-");
  });
  after(async () => {
    await server.close();
  });

  it("mosquitto_sub receives its own commands; mosquitto_pub reports metadata", async () => {
    const device = await enrolDirect(server, await createToken(server));
    const sub = mosquitto("mosquitto_sub", [
      ...common(device.deviceId),
      ...files("a", device),
      "-t",
      deviceTopics(device.deviceId).cmd,
      "-q",
      "1",
      "-C",
      "1",
      "-W",
      "15",
    ]);
    // mosquitto_sub holds a clean session: a command sent before its SUBSCRIBE is lost. So the
    // command is sent again until the client has it (`-C 1` makes it exit with the first one).
    let exited = false;
    void sub.finally(() => {
      exited = true;
    });
    await waitFor("mosquitto_sub received a command", async () => {
      if (exited) return true;
      if (server.broker.connectedDevices() > 0)
        await server.broker.publish(device.deviceId, "cmd", { type: "hello-mosquitto" });
      return false;
    });
    const received = await sub;
    assert.equal(received.code, 0, received.stderr);
    assert.match(received.stdout, /hello-mosquitto/);

    const pub = await mosquitto("mosquitto_pub", [
      ...common(device.deviceId),
      ...files("a", device),
      "-t",
      deviceTopics(device.deviceId).meta,
      "-q",
      "1",
      "-m",
      JSON.stringify({ model: "mosquitto-made", owner: "dropped" }),
    ]);
    assert.equal(pub.code, 0, pub.stderr);
    const stored = await waitFor("metadata stored", async () => {
      const res = await server.api<{ metadata: { model?: string }; droppedFields: number }>(
        "GET",
        `/api/v1/devices/${device.deviceId}`,
      );
      return res.body.metadata.model === "mosquitto-made" ? res.body : undefined;
    });
    assert.equal(stored.droppedFields, 1);
  });

  it("is confined by the ACL: other devices' topics and wildcards are refused", async () => {
    const me = await enrolDirect(server, await createToken(server));
    const victim = await enrolDirect(server, await createToken(server));
    const victimClient = await connectDevice(server, victim);
    const got: string[] = [];
    victimClient.on("message", (_topic, payload) => got.push(payload.toString()));
    await victimClient.subscribeAsync(deviceTopics(victim.deviceId).cmd, { qos: 1 });

    for (const filter of [deviceTopics(victim.deviceId).cmd, "bw/v1/d/+/cmd", "#"]) {
      const sub = await mosquitto("mosquitto_sub", [
        ...common(me.deviceId),
        ...files("me", me),
        "-t",
        filter,
        "-C",
        "1",
        "-W",
        "3",
      ]);
      // MQTT 3.1.1 §3.9.3: SUBACK 0x80; mosquitto_sub reports the denial and receives nothing.
      assert.match(sub.stderr + sub.stdout, /denied/i, filter);
    }
    const pub = await mosquitto("mosquitto_pub", [
      ...common(me.deviceId),
      ...files("me", me),
      "-t",
      deviceTopics(victim.deviceId).cmd,
      "-q",
      "1",
      "-m",
      "reboot",
    ]);
    assert.notEqual(pub.code, 0, "publishing to another device's topic fails");
    // Positive control: a command the server sends after it does arrive, and arrives alone. Had the
    // forbidden "reboot" been routed, it would be on the same QoS 1 subscription ahead of it.
    await server.broker.publish(victim.deviceId, "cmd", { type: "control" });
    await waitFor("the control command", async () => got.length > 0);
    assert.deepEqual(got, [JSON.stringify({ type: "control" })]);
    await victimClient.endAsync();
  });

  it("a device of another CA, a revoked device and a disabled device are refused", async () => {
    const rogueCa = generateKeyPair("ecdsa-p256");
    const leafKeys = generateKeyPair("ecdsa-p256");
    const rogueId = "11111111-2222-4333-8444-555555555555";
    const der = buildCertificate(
      {
        serial: randomBytes(16),
        issuerDer: commonNameOnly("Rogue CA"),
        subjectDer: commonNameOnly(rogueId),
        notBefore: new Date(Date.now() - 60_000),
        notAfter: new Date(Date.now() + 3_600_000),
        spki: spkiOf(leafKeys.publicKey),
        extensions: [
          basicConstraints(false),
          keyUsage(["digitalSignature"]),
          extKeyUsage([OID.clientAuth]),
          subjectAltName({ uris: [`urn:uuid:${rogueId}`] }),
        ],
      },
      keySigner("ecdsa-p256", rogueCa.privateKey),
    );
    const rogue = {
      keyPem: leafKeys.privateKey.export({ type: "pkcs8", format: "pem" }) as string,
      certChainPem: toPem("CERTIFICATE", der),
    };
    const attempt = (deviceId: string, creds: { keyPem: string; certChainPem: string }, name: string) =>
      mosquitto("mosquitto_pub", [
        ...common(deviceId),
        ...files(name, creds),
        "-t",
        deviceTopics(deviceId).meta,
        "-q",
        "1",
        "-m",
        "{}",
      ]);
    const foreign = await attempt(rogueId, rogue, "rogue");
    assert.notEqual(foreign.code, 0);
    // Refused in the TLS handshake: mosquitto only sees the connection go.
    assert.match(foreign.stderr, /connection was lost|tls|ssl|handshake|certificate/i);

    const revoked: EnrolledDevice = await enrolDirect(server, await createToken(server));
    await server.api("POST", `/api/v1/devices/${revoked.deviceId}/compromise`);
    const r = await attempt(revoked.deviceId, revoked, "revoked");
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /not authori[sz]ed/i);

    const disabled = await enrolDirect(server, await createToken(server));
    await server.api("POST", `/api/v1/devices/${disabled.deviceId}/disable`);
    const d = await attempt(disabled.deviceId, disabled, "disabled");
    assert.notEqual(d.code, 0);
    assert.match(d.stderr, /not authori[sz]ed/i);
  });
});
