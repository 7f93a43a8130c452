import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createToken, startTestServer, type TestServer, tempDir, waitFor } from "../../../test/helpers.ts";
import { enroll } from "./enroll.ts";
import { createLog } from "./log.ts";
import { ocspUrlOf, ownCertificateStatus } from "./own-status.ts";
import { REFUSED_RETRY_MS } from "./reconnect.ts";
import { run } from "./run.ts";
import { statePaths } from "./state.ts";

interface LogLine {
  msg: string;
  [field: string]: unknown;
}

describe("a refused agent says why and waits long", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  const enrolled = async () => {
    const stateDir = join(tempDir("bulwark-refusal-"), "state");
    const state = await enroll(
      {
        serverUrl: server.httpUrl,
        token: await createToken(server),
        caFingerprint: server.rootFingerprint,
        stateDir,
      },
      createLog("error", () => {}),
    );
    const serial = new X509Certificate(readFileSync(statePaths(stateDir).cert)).serialNumber.toLowerCase();
    return { stateDir, deviceId: state.deviceId, serial };
  };

  /** Runs the agent in this process until the test ends; its log lines are parsed as they come. */
  const runAgent = (stateDir: string, t: { after: (fn: () => Promise<void>) => void }) => {
    const lines: LogLine[] = [];
    const controller = new AbortController();
    const running = run(
      { stateDir, signal: controller.signal },
      createLog("debug", (line) => lines.push(JSON.parse(line) as LogLine)),
    );
    t.after(async () => {
      controller.abort();
      await running;
    });
    return lines;
  };

  const online = (deviceId: string) => async () =>
    (await server.api<{ online: boolean }>("GET", `/api/v1/devices/${deviceId}`)).body.online;

  it("its own certificate's OCSP status comes from the responder in its AIA: good, then revoked", async () => {
    const device = await enrolled();
    const cert = new X509Certificate(readFileSync(statePaths(device.stateDir).cert));
    assert.equal(ocspUrlOf(cert), new URL("/pki/ocsp", server.httpUrl).href);
    assert.deepEqual(await ownCertificateStatus(device.stateDir), { kind: "good" });
    const revoked = await server.api("POST", `/api/v1/certificates/${device.serial}/revoke`, {
      reason: "superseded",
    });
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    const status = await ownCertificateStatus(device.stateDir);
    assert.equal(status.kind, "revoked");
    assert.equal(status.kind === "revoked" && status.reason, "superseded");
  });

  it("revoked: logs the CONNACK refusal and the revocation, then waits the long interval", async (t) => {
    const device = await enrolled();
    const lines = runAgent(device.stateDir, t);
    await waitFor("the agent online", online(device.deviceId));
    const res = await server.api("POST", `/api/v1/certificates/${device.serial}/revoke`, {
      reason: "keyCompromise",
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const refused = await waitFor("the refusal explained", async () =>
      lines.find((l) => l.msg === "connection refused by the server"),
    );
    assert.equal(refused.connack, 5);
    assert.equal(refused.refusal, "not authorized");
    assert.equal(refused.certificate, "revoked");
    assert.equal(refused.revocationReason, "keyCompromise");
    assert.match(String(refused.cause), /certificate is revoked \(keyCompromise/);
    const retry = Number(refused.retryInMs);
    assert.ok(retry >= REFUSED_RETRY_MS / 2 && retry <= REFUSED_RETRY_MS, String(retry));
    // Before the refusal the ordinary backoff ran once (the revocation closed the session); after
    // it, no quick retry was scheduled.
    const after = lines.slice(lines.indexOf(refused));
    assert.deepEqual(
      after.filter((l) => l.msg === "disconnected; reconnecting"),
      [],
    );
  });

  it("disabled: the certificate is good, so the log says the device itself is refused", async (t) => {
    const device = await enrolled();
    const lines = runAgent(device.stateDir, t);
    await waitFor("the agent online", online(device.deviceId));
    const res = await server.api("POST", `/api/v1/devices/${device.deviceId}/disable`, { reason: "test" });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const refused = await waitFor("the refusal explained", async () =>
      lines.find((l) => l.msg === "connection refused by the server"),
    );
    assert.equal(refused.connack, 5);
    assert.equal(refused.certificate, "good");
    assert.match(String(refused.cause), /refuses the device itself: it is disabled/);
    assert.ok(Number(refused.retryInMs) >= REFUSED_RETRY_MS / 2);
  });
});
