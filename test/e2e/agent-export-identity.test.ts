import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { deviceTopics } from "../../packages/sdk/src/wire/topics.ts";
import {
  AGENT,
  createToken,
  enrolAgent,
  runCli,
  startTestServer,
  type TestServer,
  tempDir,
  waitFor,
} from "../helpers.ts";

const exec = promisify(execFile);

/** Runs a tool to its end with stdin closed; resolves with its exit code and output (never throws). */
function tool(command: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], timeout: 20_000 });
    let out = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.on("close", (code) => resolve({ code, out }));
  });
}

describe("agent: export-identity for standard tools (openssl s_client, mosquitto_pub)", () => {
  let server: TestServer;
  let stateDir: string;
  let deviceId: string;
  let out: string;
  const file = (name: string) => join(out, name);

  before(async () => {
    server = await startTestServer();
    ({ stateDir, deviceId } = await enrolAgent(server, await createToken(server)));
    out = join(tempDir("bulwark-identity-"), "identity");
  });
  after(() => server.close());

  it("writes the chain, the CA bundle and the key (0600, in a 0700 directory), with a warning", async () => {
    const exported = await runCli(AGENT, ["export-identity", "--out", out, "--state-dir", stateDir]);
    assert.equal(exported.code, 0, exported.stderr);
    assert.match(exported.stderr, /^warning: the device's private key is now in clear/);
    assert.match(exported.stderr, new RegExp(`mosquitto_pub .* -i ${deviceId} `));
    assert.deepEqual(readdirSync(out).sort(), ["ca.pem", "device.crt", "device.key"]);
    assert.equal(statSync(out).mode & 0o777, 0o700);
    assert.equal(statSync(file("device.key")).mode & 0o777, 0o600);
    const again = await runCli(AGENT, ["export-identity", "--out", out, "--state-dir", stateDir]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /is not empty: export into a new directory/);
  });

  it("openssl s_client completes mutual TLS 1.3 with the exported files and verifies the broker", async () => {
    const args = [
      "s_client",
      "-connect",
      `127.0.0.1:${server.mqttPort}`,
      "-tls1_3",
      "-CAfile",
      file("ca.pem"),
    ];
    const withCert = await tool("openssl", [
      ...args,
      "-verify_return_error",
      "-cert",
      file("device.crt"),
      "-key",
      file("device.key"),
      "-brief",
    ]);
    assert.match(withCert.out, /CONNECTION ESTABLISHED/, withCert.out);
    assert.match(withCert.out, /Verification: OK/);
    // The key is the certificate's: openssl derives the same public key from both.
    const fromKey = await exec("openssl", ["pkey", "-in", file("device.key"), "-pubout"]);
    const fromCert = await exec("openssl", ["x509", "-in", file("device.crt"), "-noout", "-pubkey"]);
    assert.equal(fromKey.stdout, fromCert.stdout);
  });

  it("mosquitto_pub connects as the device and publishes its metadata", async () => {
    const pub = await tool("mosquitto_pub", [
      "-h",
      "127.0.0.1",
      "-p",
      String(server.mqttPort),
      "--cafile",
      file("ca.pem"),
      "--cert",
      file("device.crt"),
      "--key",
      file("device.key"),
      "--tls-version",
      "tlsv1.3",
      "-V",
      "mqttv311",
      "-i",
      deviceId,
      "-q",
      "1",
      "-t",
      deviceTopics(deviceId).meta,
      "-m",
      JSON.stringify({ model: "exported-identity" }),
    ]);
    assert.equal(pub.code, 0, pub.out);
    await waitFor("metadata from mosquitto_pub stored", async () => {
      const res = await server.api<{ metadata: { model?: string } }>("GET", `/api/v1/devices/${deviceId}`);
      return res.body.metadata.model === "exported-identity";
    });
  });
});
