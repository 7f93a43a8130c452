import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { connect, type TLSSocket } from "node:tls";
import { type EnrolledDevice, enrolDirect } from "../enrol-helpers.ts";
import {
  AGENT,
  CLI,
  createToken,
  enrolAgent,
  NODE,
  runCli,
  startTestServer,
  stopChild,
  type TestServer,
  tempDir,
  waitFor,
} from "../helpers.ts";
import { connectDevice } from "../mqtt-helpers.ts";

const PQ_CA = "Bulwark ML-DSA-65 Device Issuing CA";

/** A raw mutual-TLS 1.3 handshake; resolves with the negotiated key exchange group and peer check. */
async function handshake(port: number, server: TestServer, device?: EnrolledDevice) {
  const socket: TLSSocket = connect({
    host: "127.0.0.1",
    port,
    servername: "localhost",
    ca: server.rootPem,
    minVersion: "TLSv1.3",
    ...(device ? { key: device.keyPem, cert: device.certChainPem } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("secureConnect", () => resolve());
    socket.once("error", reject);
  });
  const info = {
    group: socket.getEphemeralKeyInfo() as { name?: string },
    protocol: socket.getProtocol(),
    authorized: socket.authorized,
  };
  socket.destroy();
  return info;
}

describe("post-quantum device identity: an ML-DSA-65 chain next to the ECDSA one", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    await server.api("POST", "/api/v1/groups", { name: "pq" });
    const set = await server.api("PUT", "/api/v1/groups/pq/provisioning-policy", {
      keyAlgorithms: ["ml-dsa-65"],
      validityDays: 2 / 1440,
      renewalWindowDays: 2 / 1440,
      issuingCa: PQ_CA,
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
  });
  after(async () => {
    await server.close();
  });

  it("an ML-DSA-65 device and an ECDSA device both connect over MQTT; TLS 1.3 negotiates X25519MLKEM768", async () => {
    const pq = await enrolDirect(server, await createToken(server, "pq"), "ml-dsa-65");
    const classic = await enrolDirect(server, await createToken(server));
    const pqLeaf = new X509Certificate(pq.certPem);
    assert.equal(pqLeaf.publicKey.asymmetricKeyType, "ml-dsa-65");
    assert.match(pqLeaf.issuer, /ML-DSA-65 Device Issuing CA/);
    assert.equal(new X509Certificate(classic.certPem).publicKey.asymmetricKeyType, "ec");
    for (const device of [pq, classic]) {
      const client = await connectDevice(server, device);
      client.end(true);
      const mqtt = await handshake(server.mqttPort, server, device);
      assert.equal(mqtt.protocol, "TLSv1.3");
      assert.equal(mqtt.group.name, "X25519MLKEM768");
    }
    const https = await handshake(server.httpPort, server, pq);
    assert.equal(https.group.name, "X25519MLKEM768");
    // The PQ group only takes ML-DSA-65 keys: an ECDSA request is refused with the reason.
    await assert.rejects(
      enrolDirect(server, await createToken(server, "pq"), "ecdsa-p256"),
      /key algorithm ecdsa-p256 is not allowed in group pq/,
    );
  });

  it("the agent enrols with an ML-DSA-65 key, connects, renews (rekey) on its own and reconnects", async () => {
    const env = {
      BULWARK_URL: server.httpUrl,
      BULWARK_API_KEY: server.adminKey,
      BULWARK_CA_FILE: server.rootPemPath,
    };
    const token = await runCli(CLI, ["token", "create", "--group", "pq"], env);
    const { stateDir, deviceId } = await enrolAgent(server, token.stdout.trim(), {
      stateDir: tempDir("bulwark-pq-agent-"),
      args: ["--key-algorithm", "ml-dsa-65"],
    });
    const agent = spawn(NODE, [AGENT, "run", "--state-dir", stateDir, "--rekey"], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, BULWARK_AGENT_LOG_LEVEL: "debug", BULWARK_AGENT_RENEW_FRACTION: "0.05" },
    });
    let output = "";
    agent.stdout!.on("data", (d: Buffer) => (output += d.toString()));
    try {
      const renewed = await waitFor(
        "agent renewed its certificate",
        async () => {
          const rows = await server.store.all<{ serial: string }>(
            `SELECT serial FROM certificates WHERE device_id = ? ORDER BY created_at`,
            [deviceId],
          );
          return rows.length >= 2 ? rows : undefined;
        },
        60_000,
      );
      // Revoking the first certificate does not cut the agent off: it reconnected with the renewed one.
      await server.api("POST", `/api/v1/certificates/${renewed[0]!.serial}/revoke`, { reason: "superseded" });
      await waitFor(
        "agent reconnected with the renewed certificate",
        async () => {
          const connects = output.split("\n").filter((l) => l.includes('"msg":"connected"')).length;
          const res = await server.api<{ online: boolean }>("GET", `/api/v1/devices/${deviceId}`);
          return connects >= 2 && res.body.online;
        },
        60_000,
      );
      const audit = await server.store.get<{ details: string }>(
        `SELECT details FROM audit_log WHERE action = 'certificate.renew' AND target_id = ? ORDER BY seq LIMIT 1`,
        [deviceId],
      );
      assert.equal((JSON.parse(audit!.details) as { rekey: boolean }).rekey, true);
      assert.match(output, /certificate renewed/);
    } finally {
      assert.equal(await stopChild(agent), 0);
    }
  });
});
