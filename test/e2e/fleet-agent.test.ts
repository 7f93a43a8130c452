import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { loadDeviceKey, openAgentStore } from "../../packages/agent/src/device-store.ts";
import { DEFAULT_POLICY_SETTINGS, type PolicySettings } from "../../packages/sdk/src/wire/policy.ts";
import {
  AGENT,
  createToken,
  enrolAgent,
  runCli,
  spawnAgent,
  startTestServer,
  stopChild,
  type TestServer,
  tempDir,
  waitFor,
} from "../helpers.ts";

interface DeviceView {
  status: string;
  online: boolean;
  config: { policy: string; version: number } | null;
  eventLogging: string;
  droppedReports: number;
  metadata: { agentIntegrity?: string };
}
interface EventPage {
  items: { kind: string; detail: string | null; deviceId: string }[];
  total: number;
}

describe("fleet with the real agent: signed policy, security events with opt-out, decommission", () => {
  let server: TestServer;
  let stateDir: string;
  let deviceId: string;
  let agent: ReturnType<typeof spawnAgent>;
  let agentLog = "";
  const device = async () => (await server.api<DeviceView>("GET", `/api/v1/devices/${deviceId}`)).body;
  const events = async (kind?: string) =>
    (
      await server.api<EventPage>(
        "GET",
        `/api/v1/security-events?device=${deviceId}${kind ? `&kind=${kind}` : ""}`,
      )
    ).body;
  const publish = (settings: PolicySettings) =>
    server.api<{ version: number; pushed: number }>("POST", "/api/v1/policies/baseline/versions", {
      settings,
    });
  const agentCli = (...args: string[]) => runCli(AGENT, [...args, "--state-dir", stateDir]);

  before(async () => {
    server = await startTestServer();
    await server.api("POST", "/api/v1/groups", { name: "cams" });
    assert.equal((await publish(DEFAULT_POLICY_SETTINGS)).status, 201);
    const assigned = await server.api("PUT", "/api/v1/groups/cams/policy", { policy: "baseline" });
    assert.equal(assigned.status, 200);
    stateDir = tempDir("bulwark-fleet-agent-");
    ({ deviceId } = await enrolAgent(server, await createToken(server, "cams"), { stateDir }));
    agent = spawnAgent(stateDir);
    agent.stdout!.on("data", (chunk: Buffer) => {
      agentLog += chunk.toString("utf8");
    });
  });
  after(async () => {
    await stopChild(agent);
    await server.close();
  });

  it("keeps its private key in the encrypted store, under a data key wrapped by the KEK", () => {
    assert.equal(existsSync(join(stateDir, "device.key.pem")), false, "no key file outside the store");
    assert.equal(statSync(join(stateDir, "data.key")).size, 32);
    const record = readFileSync(join(stateDir, "store", "keys", "device.rec"));
    assert.equal(record.subarray(0, 3).toString(), "BWS", "a sealed store record");
    assert.equal(record.includes(Buffer.from("PRIVATE KEY")), false);
    const key = loadDeviceKey(openAgentStore(stateDir));
    assert.ok(new X509Certificate(readFileSync(join(stateDir, "device.cert.pem"))).checkPrivateKey(key));
  });

  it("verifies, applies and acknowledges its policy on connect and on each new version", async () => {
    await waitFor("v1 acknowledged", async () => (await device()).config?.version === 1);
    assert.equal((await device()).config?.policy, "baseline");
    const v2 = await publish({ ...DEFAULT_POLICY_SETTINGS, telemetryIntervalSeconds: 600 });
    assert.equal(v2.body.version, 2);
    assert.equal(v2.body.pushed, 1);
    await waitFor("v2 acknowledged", async () => (await device()).config?.version === 2);
    await waitFor("config change recorded", async () => (await events("config-changed")).total >= 2);
  });

  it("refuses a configuration whose signature does not verify, and reports an integrity failure", async () => {
    await server.broker.publish(deviceId, "config", {
      v: 1,
      payload: Buffer.from(JSON.stringify({ type: "config", deviceId })).toString("base64"),
      sig: Buffer.alloc(70).toString("base64"),
      alg: "ecdsa-p256",
      chain: ["AAAA", "AAAA"],
    });
    await waitFor("integrity failure recorded", async () => (await events("integrity-failure")).total === 1);
    assert.equal((await device()).config?.version, 2);
  });

  it("reports a tampered store record on its events topic and still applies the next policy", async () => {
    const record = join(stateDir, "store", "state", "config.rec");
    const bytes = readFileSync(record);
    bytes[bytes.length - 1]! ^= 0x01;
    writeFileSync(record, bytes);
    await publish({ ...DEFAULT_POLICY_SETTINGS, telemetryIntervalSeconds: 900 });
    await waitFor("v3 acknowledged", async () => (await device()).config?.version === 3);
    const found = await waitFor("store tamper reported", async () =>
      (await events("integrity-failure")).items.find((e) => e.detail?.startsWith("encrypted store")),
    );
    assert.equal(found.detail, "encrypted store: record state/config: authentication-failed");
    await waitFor(
      "integrity state in metadata",
      async () => (await device()).metadata.agentIntegrity === "tampered",
    );
  });

  it("forwards security events from local components; after the user opts out nothing is sent", async () => {
    const reported = await agentCli(
      "report-event",
      "--kind",
      "login-failed",
      "--detail",
      "3 failed ssh logins",
    );
    assert.equal(reported.code, 0, reported.stderr);
    await waitFor("login failure stored", async () => (await events("login-failed")).total === 1);
    assert.equal((await events("login-failed")).items[0]!.detail, "3 failed ssh logins");

    assert.equal((await agentCli("event-logging", "off")).code, 0);
    await waitFor("opt-out recorded", async () => (await device()).eventLogging === "off-device");
    assert.equal((await events("logging-opted-out")).items[0]!.detail, "by device");
    assert.equal((await agentCli("report-event", "--kind", "login-failed")).code, 0);
    // The agent takes the queued event and discards it: nothing leaves the device.
    await waitFor("queue drained", async () => readdirSync(join(stateDir, "store", "queue")).length === 0);

    assert.equal((await agentCli("event-logging", "on")).code, 0);
    await waitFor("opt-in recorded", async () => (await device()).eventLogging === "on");
    // Positive control: an event reported after opting in arrives; the discarded one, taken from the
    // spool before it, would have reached the server first had it been sent.
    const control = await agentCli("report-event", "--kind", "login-failed", "--detail", "after opt-in");
    assert.equal(control.code, 0, control.stderr);
    await waitFor("the opted-in event stored", async () =>
      (await events("login-failed")).items.some((e) => e.detail === "after opt-in"),
    );
    assert.deepEqual((await events("login-failed")).items.map((e) => e.detail).sort(), [
      "3 failed ssh logins",
      "after opt-in",
    ]);
    assert.equal((await device()).droppedReports, 0, "the opted-out agent sent nothing");
  });

  it("a policy can turn logging off; the device records that the policy opted it out", async () => {
    await publish({ ...DEFAULT_POLICY_SETTINGS, securityEventLogging: false });
    await waitFor("policy opt-out recorded", async () => (await device()).eventLogging === "off-policy");
    const optOuts = await events("logging-opted-out");
    assert.ok(optOuts.items.some((e) => e.detail === "by policy"));
    assert.equal((await device()).config?.version, 4);
  });

  it("decommission: the agent crypto-erases its data and confirms; the record goes, the audit trail stays", async () => {
    const res = await server.api<{ device: { status: string } }>(
      "POST",
      `/api/v1/devices/${deviceId}/decommission`,
      {
        reason: "end of life",
      },
    );
    assert.equal(res.status, 200);
    assert.equal(res.body.device.status, "decommissioned");
    const exitCode = await new Promise<number | null>((resolve) =>
      agent.exitCode !== null ? resolve(agent.exitCode) : agent.once("exit", resolve),
    );
    assert.equal(exitCode, 0, agentLog.slice(-2000));
    assert.deepEqual(readdirSync(stateDir), [], "nothing is left in the state directory");
    await waitFor("record deleted", async () => {
      const r = await server.api("GET", `/api/v1/devices/${deviceId}`);
      return r.status === 404;
    });
    const audit = await server.store.all<{ action: string }>(
      `SELECT action FROM audit_log WHERE target_id = ? ORDER BY seq`,
      [deviceId],
    );
    assert.deepEqual(
      audit
        .map((a) => a.action)
        .filter((a) => a.startsWith("device.") && !a.startsWith("device.event-logging")),
      ["device.enrol", "device.decommission", "device.wiped"],
    );
    const certs = await server.store.all<{ status: string; revocation_reason: string }>(
      `SELECT status, revocation_reason FROM certificates WHERE device_id = ?`,
      [deviceId],
    );
    assert.deepEqual(
      certs.map((c) => ({ ...c })),
      [{ status: "revoked", revocation_reason: "cessationOfOperation" }],
    );
    assert.equal((await events()).total, 0);
  });
});
