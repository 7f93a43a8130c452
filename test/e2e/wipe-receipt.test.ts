import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { sha256Fingerprint } from "../../packages/sdk/src/fingerprint.ts";
import { signWipeReceipt, type WipeReceipt } from "../../packages/sdk/src/wire/wipe-receipt.ts";
import { generateKeyPair } from "../../packages/sdk/src/x509/algorithms.ts";
import { type EnrolledDevice, enrolDirect } from "../enrol-helpers.ts";
import {
  createToken,
  enrolAgent,
  spawnAgent,
  startTestServer,
  stopChild,
  type TestServer,
  waitFor,
} from "../helpers.ts";
import { linkRelay } from "../link-relay.ts";

/**
 * The wipe receipt (docs/architecture.md, decommission): a wiped agent that could not get its MQTT confirmation
 * acknowledged — restarted before the PUBACK — still completes the wipe by delivering the receipt it
 * signed before erasing its key, over HTTPS with no client certificate; a receipt that is not the
 * device's own, for its pending wipe, is refused.
 */
describe("wipe receipt: the wipe completes although the agent restarts before its PUBACK", () => {
  let server: TestServer;
  const serverLog: string[] = [];

  const audit = async (deviceId: string, action: string) =>
    (
      await server.store.all<{ outcome: string; details: string }>(
        `SELECT outcome, details FROM audit_log WHERE target_id = ? AND action = ? ORDER BY seq`,
        [deviceId, action],
      )
    ).map((r) => ({ outcome: r.outcome, details: JSON.parse(r.details) as Record<string, unknown> }));
  const status = async (deviceId: string) =>
    (await server.api<{ status: string }>("GET", `/api/v1/devices/${deviceId}`)).body.status;
  const pendingWipe = async (deviceId: string) =>
    (
      await server.store.get<{ pending_wipe_id: string | null }>(
        `SELECT pending_wipe_id FROM devices WHERE id = ?`,
        [deviceId],
      )
    )?.pending_wipe_id;
  const decommission = async (deviceId: string) => {
    const res = await server.api("POST", `/api/v1/devices/${deviceId}/decommission`, {
      reason: "end of life",
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  };
  const postReceipt = (body: unknown) =>
    fetchJson(`${server.httpUrl}/api/v1/wipe-receipts`, body, server.rootPem);

  before(async () => {
    server = await startTestServer({ logLines: serverLog });
  });
  after(async () => {
    await server?.close();
  });

  /** A real agent behind a relay on its MQTT link; its log lines (JSON on stdout). */
  async function relayedAgent() {
    const who = await enrolAgent(server, await createToken(server));
    const relay = await linkRelay(server.mqttPort);
    const statePath = join(who.stateDir, "agent.json");
    const state = JSON.parse(readFileSync(statePath, "utf8")) as { mqttUrl: string };
    const url = new URL(state.mqttUrl);
    url.port = String(relay.port);
    writeFileSync(statePath, JSON.stringify({ ...state, mqttUrl: url.href }));
    const log: string[] = [];
    const stderr: string[] = [];
    let agent: ChildProcess | undefined;
    const start = () => {
      agent = spawnAgent(who.stateDir);
      let rest = "";
      agent.stdout!.on("data", (chunk: Buffer) => {
        const lines = (rest + chunk.toString("utf8")).split("\n");
        rest = lines.pop()!;
        log.push(...lines.filter((l) => l.startsWith("{")));
      });
      agent.stderr!.on("data", (chunk: Buffer) => stderr.push(chunk.toString("utf8")));
      return agent;
    };
    const logged = (msg: string, fields: Record<string, unknown> = {}) =>
      log.filter((line) => {
        const entry = JSON.parse(line) as Record<string, unknown>;
        return entry.msg === msg && Object.entries(fields).every(([k, v]) => entry[k] === v);
      }).length;
    /** The agent's exit code, waited for within a bound (its log and stderr told if it does not exit). */
    const exited = async () => {
      try {
        await waitFor(
          "the agent to exit",
          async () => agent!.exitCode !== null || agent!.signalCode !== null,
          60_000,
        );
      } catch (error) {
        const errors = serverLog.filter((l) => /"level":50/.test(l));
        throw new Error(
          `${(error as Error).message}\n${log.join("\n")}\n${stderr.join("")}\n${errors.join("\n")}`,
        );
      }
      return agent!.exitCode;
    };
    const kill = async () => {
      assert.equal(agent!.exitCode, null, `the agent is still running (stderr: ${stderr.join("")})`);
      const gone = new Promise((resolve) => agent!.once("exit", resolve));
      agent!.kill("SIGKILL");
      await gone;
    };
    return { ...who, relay, start, logged, exited, kill, log, agent: () => agent };
  }

  it("restarted before the confirmation reached the server: the receipt completes the wipe", async () => {
    const a = await relayedAgent();
    try {
      a.start();
      // Subscribed (the SUBACK came): the server pushes the wipe command on `cmd`.
      await waitFor("A subscribed", async () => a.logged("subscribed") >= 1);
      a.relay.set("mute"); // nothing A sends reaches the server from now on
      await decommission(a.deviceId);
      const wipeId = await pendingWipe(a.deviceId);
      await waitFor(
        "A erased its key",
        async () =>
          existsSync(join(a.stateDir, "wipe-receipt.json")) && !existsSync(join(a.stateDir, "data.key")),
      );
      await a.kill(); // before any PUBACK, before the remains are deleted
      // Positive control: the confirmation never arrived; the wipe is pending, the certificate valid.
      assert.equal(await status(a.deviceId), "decommissioned");
      assert.equal(await pendingWipe(a.deviceId), wipeId);
      assert.deepEqual(await audit(a.deviceId, "device.wiped"), []);
      assert.ok(readdirSync(a.stateDir).includes("agent.json"), "killed before the remains were deleted");

      a.start(); // the MQTT link is still mute: only the receipt over HTTPS can reach the server
      assert.equal(await a.exited(), 0);
      assert.equal(a.logged("wipe receipt acknowledged", { wipeId, state: "wiped" }), 1);
      assert.deepEqual(readdirSync(a.stateDir), [], "nothing is left in the state directory");
      assert.equal((await server.api("GET", `/api/v1/devices/${a.deviceId}`)).status, 404);
      const wiped = await audit(a.deviceId, "device.wiped");
      assert.equal(wiped.length, 1);
      assert.equal(wiped[0]!.details.via, "receipt");
      assert.equal(wiped[0]!.details.wipeId, wipeId);
      const certs = await server.store.all<{ status: string; revocation_reason: string | null }>(
        `SELECT status, revocation_reason FROM certificates WHERE device_id = ?`,
        [a.deviceId],
      );
      assert.ok(certs.length > 0);
      for (const c of certs)
        assert.deepEqual({ ...c }, { status: "revoked", revocation_reason: "cessationOfOperation" });
    } catch (error) {
      console.log(a.log.join("\n"));
      throw error;
    } finally {
      if (a.agent()) await stopChild(a.agent()!);
      await a.relay.close();
    }
  });

  it("the confirmation arrived but its PUBACK was lost, then a restart: the receipt is answered as done, wiped once", async () => {
    const d = await relayedAgent();
    try {
      d.start();
      // Subscribed (the SUBACK came): the server pushes the wipe command on `cmd`.
      await waitFor("D subscribed", async () => d.logged("subscribed") >= 1);
      d.relay.set("deaf"); // what D sends arrives; what the server answers does not
      await decommission(d.deviceId);
      const wipeId = await pendingWipe(d.deviceId);
      await waitFor(
        "the server completed the wipe on the MQTT confirmation",
        async () => (await server.api("GET", `/api/v1/devices/${d.deviceId}`)).status === 404,
      );
      assert.equal(d.agent()!.exitCode, null, "D never heard the PUBACK");
      await d.kill();
      assert.ok(existsSync(join(d.stateDir, "wipe-receipt.json")));

      d.start();
      assert.equal(await d.exited(), 0);
      assert.equal(d.logged("wipe receipt acknowledged", { wipeId, state: "already-wiped" }), 1);
      assert.deepEqual(readdirSync(d.stateDir), []);
      const wiped = await audit(d.deviceId, "device.wiped");
      assert.equal(wiped.length, 1, "completed once");
      assert.equal(wiped[0]!.details.via, "mqtt");
    } finally {
      if (d.agent()) await stopChild(d.agent()!);
      await d.relay.close();
    }
  });

  it("forged, another device's, another wipe's or malformed receipts are refused; the device's own completes once", async () => {
    const token = await createToken(server);
    const b = await enrolDirect(server, token);
    const c = await enrolDirect(server, await createToken(server));
    await decommission(b.deviceId);
    await decommission(c.deviceId);
    const wipeId = (await pendingWipe(b.deviceId))!;
    const otherWipeId = (await pendingWipe(c.deviceId))!;
    const wipedAt = new Date().toISOString();
    const signedBy = (device: EnrolledDevice, claim: { deviceId: string; wipeId: string }): WipeReceipt =>
      signWipeReceipt(
        { ...claim, wipedAt },
        {
          algorithm: "ecdsa-p256",
          privateKey: createPrivateKey(device.keyPem),
          certificateFingerprint: sha256Fingerprint(new X509Certificate(device.certPem).raw),
        },
      );
    const own = signedBy(b, { deviceId: b.deviceId, wipeId });

    const refused: [string, unknown][] = [
      // A key that is not the device's, naming the device's certificate.
      [
        "forged signature",
        signWipeReceipt(
          { deviceId: b.deviceId, wipeId, wipedAt },
          {
            algorithm: "ecdsa-p256",
            privateKey: generateKeyPair("ecdsa-p256").privateKey,
            certificateFingerprint: own.certificate,
          },
        ),
      ],
      // C's genuine key and certificate, claiming B's wipe.
      ["another device's key", signedBy(c, { deviceId: b.deviceId, wipeId })],
      // B's own key, for C's wipe id (and for a wipe that does not exist).
      ["another wipe's id", signedBy(b, { deviceId: b.deviceId, wipeId: otherWipeId })],
      ["an unknown wipe id", signedBy(b, { deviceId: b.deviceId, wipeId: "not-a-pending-wipe" })],
      // B's genuine receipt with its signature swapped for one over another claim.
      [
        "a signature moved to another claim",
        { ...own, sig: signedBy(b, { deviceId: b.deviceId, wipeId: otherWipeId }).sig },
      ],
    ];
    for (const [what, body] of refused) {
      const res = await postReceipt(body);
      assert.equal(res.status, 403, what);
      assert.equal(res.contentType, "application/problem+json", what);
      assert.equal((res.body as { code: string }).code, "BW_ERR_WIPE_RECEIPT_INVALID", what);
    }
    for (const body of [
      {},
      { ...own, extra: 1 },
      { ...own, payload: "not base64!" },
      { ...own, alg: "rsa" },
    ]) {
      const res = await postReceipt(body);
      assert.equal(res.status, 400, JSON.stringify(body).slice(0, 80));
      assert.equal(res.contentType, "application/problem+json");
      assert.equal((res.body as { code: string }).code, "BW_ERR_VALIDATION");
    }
    // Nothing was completed by any of them, and each refusal is audited.
    assert.equal(await status(b.deviceId), "decommissioned");
    assert.equal(await status(c.deviceId), "decommissioned");
    assert.equal((await audit(b.deviceId, "device.wipe-receipt")).length, refused.length);

    // Positive control: B's own receipt completes B's wipe, and only B's; a repeat is answered as done.
    const first = await postReceipt(own);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.deepEqual(first.body, { state: "wiped", deviceId: b.deviceId, wipeId });
    assert.equal((await server.api("GET", `/api/v1/devices/${b.deviceId}`)).status, 404);
    assert.equal(await status(c.deviceId), "decommissioned");
    const again = await postReceipt(own);
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, { state: "already-wiped", deviceId: b.deviceId, wipeId });
    assert.equal((await audit(b.deviceId, "device.wiped")).length, 1);
    // Replayed after the wipe with another wipe id: still refused.
    assert.equal((await postReceipt(signedBy(b, { deviceId: b.deviceId, wipeId: otherWipeId }))).status, 403);
  });

  it("an ECDSA P-384 device's receipt verifies with its certificate's key (SHA-384)", async () => {
    const e = await enrolDirect(server, await createToken(server), "ecdsa-p384");
    await decommission(e.deviceId);
    const wipeId = (await pendingWipe(e.deviceId))!;
    const receipt = signWipeReceipt(
      { deviceId: e.deviceId, wipeId, wipedAt: new Date().toISOString() },
      {
        algorithm: "ecdsa-p384",
        privateKey: createPrivateKey(e.keyPem),
        certificateFingerprint: sha256Fingerprint(new X509Certificate(e.certPem).raw),
      },
    );
    const wrongAlg = await postReceipt({ ...receipt, alg: "ecdsa-p256" });
    assert.equal(wrongAlg.status, 403);
    const res = await postReceipt(receipt);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal((await server.api("GET", `/api/v1/devices/${e.deviceId}`)).status, 404);
  });
});

/** A POST without a client certificate, as the wiped device makes it. */
async function fetchJson(url: string, body: unknown, caPem: string) {
  const { httpsRequest } = await import("../../packages/sdk/src/https.ts");
  const res = await httpsRequest({
    url,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    ca: caPem,
  });
  return {
    status: res.status,
    contentType: String(res.headers["content-type"] ?? "").split(";")[0],
    body: JSON.parse(res.body.toString("utf8")) as unknown,
  };
}
