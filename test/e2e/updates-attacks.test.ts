import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { openAgentStore } from "../../packages/agent/src/device-store.ts";
import { JobStore } from "../../packages/agent/src/updates/job-store.ts";
import { UpdateAgent } from "../../packages/agent/src/updates/update-agent.ts";
import type { JobNotify, JobStatusReport } from "../../packages/sdk/src/wire/jobs.ts";
import type { EnrolledDevice } from "../enrol-helpers.ts";
import { startTestServer, type TestServer, tempDir, waitFor } from "../helpers.ts";
import { createRelease, productDevice, updateNote, uploadArtifact } from "../update-helpers.ts";

/**
 * Issue #15 item 6: the agent against a malicious repository or server. Each attack must end
 * the job with a reported reason and leave nothing installed. (The TUF client's own attack tests
 * — freeze, fast-forward, mix-and-match, key compromise below threshold — are in
 * packages/sdk/src/tuf/client/attacks-*.test.ts; here the agent's whole path is attacked.)
 */
describe("update attacks against the agent: each refused with a reason, nothing installed", () => {
  let server: TestServer;
  let productId: string;
  let device: EnrolledDevice;
  const silent = { debug() {}, info() {}, warn() {}, error() {} };

  async function publish(version: string, body: Buffer, hardware: string[] = []) {
    const id = await createRelease(server, productId, version);
    await uploadArtifact(server, id, "fw.img", body);
    await server.api("PUT", `/api/v1/releases/${id}/update`, { hardware });
    assert.equal((await server.api("POST", `/api/v1/releases/${id}/publish`)).status, 200);
  }

  /** A fresh device state, one job for `path`, run to its end; returns the reports and the state dir. */
  async function attempt(path: string, version: string, extra: Partial<JobNotify> = {}) {
    const stateDir = tempDir("bulwark-attack-");
    writeFileSync(
      join(stateDir, "updates.json"),
      JSON.stringify({ hardwareRevision: "rev-a", downloadRetries: 0 }),
    );
    const reports: JobStatusReport[] = [];
    const agent = new UpdateAgent({
      stateDir,
      store: openAgentStore(stateDir, { tpm: null }),
      serverUrl: server.httpUrl,
      tls: () => ({ ca: server.rootPem, cert: device.certChainPem, key: device.keyPem }),
      report: (_jobId, report) => reports.push(report),
      log: silent,
    });
    await agent.start();
    agent.onNotify(updateNote(productId, path, version, extra));
    const end = await waitFor("job end", async () =>
      reports.find((r) => ["succeeded", "failed", "rejected", "rolled_back"].includes(r.state)),
    );
    await agent.stop();
    const installed = existsSync(join(stateDir, "updates", "slots", "slots.json"));
    return { end, installed, stateDir };
  }

  before(async () => {
    // No deltas: computing one at publish reads the new image, and the server keeps small images it
    // has read in memory (hot-objects.ts), so the bytes swapped on disk below would never be served.
    server = await startTestServer({ args: ["--delta-max-image-bytes", "0"] });
    productId = (await server.api<{ id: string }>("POST", "/api/v1/products", { name: "Attacked A1" })).body
      .id;
    device = await productDevice(server, productId);
    await publish("1.0.0", randomBytes(4096));
  });
  after(async () => {
    await server.close();
  });

  it("positive control: the genuine update installs", async () => {
    const { end, installed } = await attempt("firmware/1.0.0/fw.img", "1.0.0");
    assert.equal(end.state, "succeeded", end.reason ?? "");
    assert.ok(installed);
  });

  it("arbitrary software: bytes swapped on the server (same length) are refused by their digest", async () => {
    const image = randomBytes(4096);
    await publish("1.1.0", image);
    const { createHash } = await import("node:crypto");
    const sha = createHash("sha256").update(image).digest("hex");
    writeFileSync(join(server.dir, "data", "artifacts", sha.slice(0, 2), sha), randomBytes(4096));
    const { end, installed } = await attempt("firmware/1.1.0/fw.img", "1.1.0");
    assert.equal(end.state, "failed");
    assert.match(end.reason!, /digest does not match/);
    assert.equal(installed, false);
  });

  it("wrong software: a target the product's repository does not sign, or for other hardware", async () => {
    const unsigned = await attempt("firmware/9.9.9/evil.img", "9.9.9");
    assert.equal(unsigned.end.state, "failed");
    assert.match(unsigned.end.reason!, /not a signed target of this product/);
    assert.equal(unsigned.installed, false);
    await publish("1.2.0", randomBytes(1024), ["rev-b"]);
    const hardware = await attempt("firmware/1.2.0/fw.img", "1.2.0");
    assert.equal(hardware.end.state, "rejected");
    assert.match(hardware.end.reason!, /for hardware rev-b, this device is rev-a/);
    assert.equal(hardware.installed, false);
  });

  it("a job whose version disagrees with the signed target is refused (a forged job)", async () => {
    const { end, installed } = await attempt("firmware/1.0.0/fw.img", "2.0.0");
    assert.equal(end.state, "failed");
    assert.match(end.reason!, /signed target is version 1\.0\.0, not 2\.0\.0/);
    assert.equal(installed, false);
    // The kind too: a feature release announced as a security one (mandatory, raising the floor).
    const forgedKind = await attempt("firmware/1.0.0/fw.img", "1.0.0", { kind: "security" });
    assert.equal(forgedKind.end.state, "failed");
    assert.match(forgedKind.end.reason!, /signed target is a feature release, not security/);
    assert.equal(forgedKind.installed, false);
  });

  it("a classical-only signature where the agent requires the hybrid pair is refused", async () => {
    const row = await server.store.get<{ body: Uint8Array }>(
      `SELECT body FROM tuf_files WHERE product_id = ? AND name = 'timestamp.json'`,
      [productId],
    );
    const original = Buffer.from(row!.body);
    const timestamp = JSON.parse(original.toString()) as { signatures: { sig: string }[] };
    // Keep only the ECDSA signature (72-byte DER, ~144 hex), drop the 3,309-byte ML-DSA one.
    timestamp.signatures = timestamp.signatures.filter((s) => s.sig.length < 200);
    await server.store.run(`UPDATE tuf_files SET body = ? WHERE product_id = ? AND name = 'timestamp.json'`, [
      Buffer.from(JSON.stringify(timestamp)),
      productId,
    ]);
    try {
      const { end, installed } = await attempt("firmware/1.0.0/fw.img", "1.0.0");
      assert.equal(end.state, "failed");
      assert.match(end.reason!, /update metadata refused: .*timestamp/);
      assert.equal(installed, false);
    } finally {
      await server.store.run(
        `UPDATE tuf_files SET body = ? WHERE product_id = ? AND name = 'timestamp.json'`,
        [original, productId],
      );
    }
  });

  it("a floor record that failed its integrity check: rollback jobs are refused from then on", async () => {
    const first = await attempt("firmware/1.0.0/fw.img", "1.0.0");
    assert.equal(first.end.state, "succeeded");
    const rollbackJob = (jobId: string): JobNotify => ({
      type: "update",
      jobId,
      deploymentId: "d",
      productId,
      state: "notified",
      targets: [{ path: "firmware/1.0.0/fw.img", artifact: "binary" }],
      component: "firmware",
      version: "1.0.0",
      kind: "feature",
      mandatory: false,
      maxDeferralSeconds: 0,
      window: null,
      network: { metered: "allow" },
      rollback: true,
      issuedAt: Date.now(),
    });
    const run = async (jobId: string) => {
      const reports: JobStatusReport[] = [];
      const agent = new UpdateAgent({
        stateDir: first.stateDir,
        store: openAgentStore(first.stateDir, { tpm: null }),
        serverUrl: server.httpUrl,
        tls: () => ({ ca: server.rootPem, cert: device.certChainPem, key: device.keyPem }),
        report: (_jobId, report) => reports.push(report),
        log: silent,
      });
      await agent.start();
      agent.onNotify(rollbackJob(jobId));
      const end = await waitFor("job end", async () =>
        reports.find((r) => ["succeeded", "failed", "rejected", "rolled_back"].includes(r.state)),
      );
      await agent.stop();
      return end;
    };
    // Positive control: a rollback job to a version the floor allows installs.
    assert.equal((await run("job-rollback-ok")).state, "succeeded");
    const floorFile = join(first.stateDir, "store", "state", "updates.floor.rec");
    const bytes = readFileSync(floorFile);
    bytes[bytes.length - 1]! ^= 0x01;
    writeFileSync(floorFile, bytes);
    const before = readFileSync(join(first.stateDir, "updates", "slots", "slots.json"), "utf8");
    const end = await run("job-rollback-refused");
    assert.equal(end.state, "rejected");
    assert.match(end.reason!, /anti-rollback floor was rebuilt after an integrity failure/);
    assert.equal(readFileSync(join(first.stateDir, "updates", "slots", "slots.json"), "utf8"), before);
  });

  it("rollback: an older version than the installed one is refused, even when signed", async () => {
    const first = await attempt("firmware/1.0.0/fw.img", "1.0.0");
    assert.equal(first.end.state, "succeeded");
    // The same device (its state kept) is offered 1.0.0 again after installing a newer one.
    const store = openAgentStore(first.stateDir, { tpm: null });
    new JobStore(store, first.stateDir, silent).setInstalled("firmware", "1.2.5", false);
    const reports: JobStatusReport[] = [];
    const agent = new UpdateAgent({
      stateDir: first.stateDir,
      store,
      serverUrl: server.httpUrl,
      tls: () => ({ ca: server.rootPem, cert: device.certChainPem, key: device.keyPem }),
      report: (_jobId, report) => reports.push(report),
      log: silent,
    });
    await agent.start();
    const before = readFileSync(join(first.stateDir, "updates", "slots", "slots.json"), "utf8");
    agent.onNotify(updateNote(productId, "firmware/1.0.0/fw.img", "1.0.0", { jobId: "job-rollback" }));
    const end = await waitFor("job end", async () =>
      reports.find((r) => r.state === "rejected" || r.state === "succeeded"),
    );
    await agent.stop();
    assert.equal(end.state, "rejected");
    assert.match(end.reason!, /not newer than the installed 1\.2\.5/);
    assert.equal(
      readFileSync(join(first.stateDir, "updates", "slots", "slots.json"), "utf8"),
      before,
      "nothing installed",
    );
  });
});
