import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { appendFileSync, cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { openAgentStore } from "../../packages/agent/src/device-store.ts";
import { JobStore } from "../../packages/agent/src/updates/job-store.ts";
import { UpdateAgent } from "../../packages/agent/src/updates/update-agent.ts";
import type { TargetFile, Targets } from "../../packages/sdk/src/tuf/index.ts";
import { verifyThreshold } from "../../packages/sdk/src/tuf/threshold.ts";
import type { JobNotify, JobStatusReport } from "../../packages/sdk/src/wire/jobs.ts";
import { FileKeyCustody } from "../../packages/server/src/custody/file-key-custody.ts";
import { loadMasterKey } from "../../packages/server/src/custody/master-key.ts";
import { withRepository } from "../../packages/server/src/updates/tuf-repository.ts";
import type { EnrolledDevice } from "../enrol-helpers.ts";
import {
  createToken,
  enrolAgent,
  spawnAgent,
  startTestServer,
  stopChild,
  type TestServer,
  tempDir,
  waitFor,
} from "../helpers.ts";
import { productDevice, publishedRelease, updateNote } from "../update-helpers.ts";

interface Job {
  state: string;
  reason: string | null;
}

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const ended = (state: string) => ["succeeded", "failed", "rejected", "rolled_back"].includes(state);

/**
 * Issue #15: "a fleet rollback to the last known-good release guarded by an anti-rollback
 * counter" — the counter is one signed fact (TUF spec §4.5 custom `antiRollbackCounter`) that the
 * server and the agent both enforce. Releases: 1.0.0 (feature, counter 0), 1.0.5 (security,
 * counter 1), 1.1.0 (feature, counter 1). The device installs 1.0.0 then 1.1.0, never 1.0.5: its
 * floor is 1 on both sides (before, the agent kept a version floor and had none).
 */
describe("the anti-rollback counter: signed into the targets, enforced by the server and the agent", () => {
  let server: TestServer;
  let productId: string;
  let agent: ChildProcess;
  let stateDir: string;
  let deviceId: string;
  /** The device's whole state directory as enrolled, before any update: an old backup to put back. */
  let backup: string;
  const release: Record<string, string> = {};
  const slots = () => JSON.parse(readFileSync(join(stateDir, "updates", "slots", "slots.json"), "utf8"));

  const deploy = (body: Record<string, unknown>) =>
    server.api<{ id: string; code: string; detail: string }>("POST", "/api/v1/deployments", body);

  async function deployAndWait(version: string, rollback = false): Promise<Job> {
    const created = await deploy({ releaseId: release[version], devices: [deviceId], rollback });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return waitFor(
      "job outcome",
      async () => {
        const jobs = await server.api<{ items: Job[] }>("GET", `/api/v1/deployments/${created.body.id}/jobs`);
        const job = jobs.body.items[0];
        return job && ended(job.state) && job;
      },
      60_000,
    );
  }

  // Set BULWARK_TEST_AGENT_LOG=FILE to keep the agent's log lines when debugging.
  const startAgent = () => {
    const child = spawnAgent(stateDir);
    const keep = (d: Buffer) =>
      process.env.BULWARK_TEST_AGENT_LOG && appendFileSync(process.env.BULWARK_TEST_AGENT_LOG, d);
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    return child;
  };

  /** One job run to its end by an update agent in this process on the device's state (the agent process stopped). */
  /**
   * One job run to its end by an update agent in this process on the device's state (its process
   * stopped). The HTTPS identity is another device of the product: what is refused is decided by
   * the state, not by whose certificate fetches the metadata.
   */
  async function runJob(version: string, extra: Partial<JobNotify>): Promise<JobStatusReport> {
    const tls = await productDevice(server, productId);
    return runAgentJob(
      server,
      stateDir,
      tls,
      note(productId, jobId(), version, extra),
      openAgentStore(stateDir),
    );
  }

  before(async () => {
    server = await startTestServer();
    productId = (await server.api<{ id: string }>("POST", "/api/v1/products", { name: "Meter M3" })).body.id;
    release["1.0.0"] = await publishedRelease(server, productId, "1.0.0");
    release["1.0.5"] = await publishedRelease(server, productId, "1.0.5", { classification: "security" });
    release["1.1.0"] = await publishedRelease(server, productId, "1.1.0");
    ({ stateDir, deviceId } = await enrolAgent(server, await createToken(server)));
    await server.api("PATCH", `/api/v1/devices/${deviceId}`, { product: productId });
    writeFileSync(
      join(stateDir, "updates.json"),
      JSON.stringify({ hardwareRevision: "rev-a", checkIntervalMs: 500 }),
    );
    backup = join(tempDir("bulwark-counter-backup-"), "state");
    cpSync(stateDir, backup, { recursive: true });
    agent = startAgent();
    await waitFor(
      "agent online",
      async () => (await server.api<{ online: boolean }>("GET", `/api/v1/devices/${deviceId}`)).body.online,
    );
  });
  after(async () => {
    await stopChild(agent);
    await server.close();
  });

  it("a feature release installed after a skipped security release: the device reports floor 1, the server refuses below it", async () => {
    assert.equal((await deployAndWait("1.0.0")).state, "succeeded");
    assert.equal((await deployAndWait("1.1.0")).state, "succeeded");
    const metadata = await waitFor("the floor reported in the metadata", async () => {
      const shown = await server.api<{
        metadata: { firmwareVersion?: string; antiRollbackCounters?: object };
      }>("GET", `/api/v1/devices/${deviceId}`);
      return shown.body.metadata.firmwareVersion === "1.1.0" && shown.body.metadata;
    });
    assert.deepEqual(metadata.antiRollbackCounters, { firmware: 1 });
    const refused = await deploy({ releaseId: release["1.0.0"], devices: [deviceId], rollback: true });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.code, "BW_ERR_ANTI_ROLLBACK");
    assert.match(
      refused.body.detail,
      new RegExp(
        `counter 0, below the floor of 1 targeted device\\(s\\): ${deviceId} \\(counter 1, reported by the device\\)`,
      ),
    );
  });

  it("the agent refuses the same rollback by the signed counter, with its reason; nothing installed", async () => {
    await stopChild(agent);
    const before = readFileSync(join(stateDir, "updates", "slots", "slots.json"), "utf8");
    const end = await runJob("1.0.0", { rollback: true });
    assert.equal(end.state, "rejected");
    assert.equal(
      end.reason,
      "rollback below the anti-rollback floor 1 (the highest signed counter installed) refused: 1.0.0 has counter 0",
    );
    assert.equal(readFileSync(join(stateDir, "updates", "slots", "slots.json"), "utf8"), before);
    // Positive control: a rollback job with the floor's counter (the installed 1.1.0 again) installs.
    assert.equal((await runJob("1.1.0", { rollback: true })).state, "succeeded");
    agent = startAgent();
    await waitFor(
      "agent online again",
      async () => (await server.api<{ online: boolean }>("GET", `/api/v1/devices/${deviceId}`)).body.online,
    );
  });

  it("a rollback to the last known-good with the same counter succeeds end to end on the device", async () => {
    const job = await deployAndWait("1.0.5", true);
    assert.equal(job.state, "succeeded", job.reason ?? "");
    assert.equal(slots().versions[slots().active], "1.0.5");
  });

  it("a target whose counter was changed after signing fails TUF verification", async () => {
    const rows = await server.store.all<{ name: string; body: Uint8Array }>(
      `SELECT name, body FROM tuf_files WHERE product_id = ?`,
      [productId],
    );
    const roles = rows.filter((r) => /(^|\.)firmware\.json$/.test(r.name));
    assert.ok(roles.length > 0);
    const lie = (body: Uint8Array) =>
      Buffer.from(
        Buffer.from(body)
          .toString("utf8")
          .replace(/("version":"1\.0\.0"[^}]*"antiRollbackCounter":)0/, "$15"),
      );
    for (const r of roles)
      assert.notDeepEqual(lie(r.body), Buffer.from(r.body), "the counter is there to change");
    // A fresh device (no cached role) with no floor, so only TUF verification can refuse it.
    const fresh = await productDevice(server, productId);
    const dir = tempDir("bulwark-counter-lie-");
    writeFileSync(
      join(dir, "updates.json"),
      JSON.stringify({ hardwareRevision: "rev-a", downloadRetries: 0 }),
    );
    const attempt = () => runAgentJob(server, dir, fresh, note(productId, jobId(), "1.0.0"));
    for (const r of roles)
      await server.store.run(`UPDATE tuf_files SET body = ? WHERE product_id = ? AND name = ?`, [
        lie(r.body),
        productId,
        r.name,
      ]);
    try {
      const end = await attempt();
      assert.equal(end.state, "failed");
      // TUF spec §5.6.2: the role's bytes are not the ones the signed snapshot lists.
      assert.equal(end.reason, "firmware: sha256 hash does not match");
    } finally {
      for (const r of roles)
        await server.store.run(`UPDATE tuf_files SET body = ? WHERE product_id = ? AND name = ?`, [
          Buffer.from(r.body),
          productId,
          r.name,
        ]);
    }
    assert.equal((await attempt()).state, "succeeded", "positive control: the genuine role");

    // §5.6.3: and with the snapshot forged too, the role's own signatures no longer verify.
    type Envelope = Parameters<typeof verifyThreshold>[0];
    const latest = (pattern: RegExp) =>
      rows
        .filter((r) => pattern.test(r.name))
        .map((r) => JSON.parse(Buffer.from(r.body).toString("utf8")) as Envelope)
        .sort(
          (x, y) => (y.signed as { version: number }).version - (x.signed as { version: number }).version,
        )[0]!;
    const top = latest(/^(\d+\.)?targets\.json$/).signed as Targets;
    const delegation = top.delegations!.roles.find((r) => r.name === "firmware")!;
    const genuine = latest(/(^|\.)firmware\.json$/);
    verifyThreshold(genuine, delegation, top.delegations!.keys, "hybrid", "firmware"); // positive control
    const forged = JSON.parse(lie(Buffer.from(JSON.stringify(genuine))).toString("utf8")) as Envelope;
    assert.throws(
      () => verifyThreshold(forged, delegation, top.delegations!.keys, "hybrid", "firmware"),
      (error: Error & { code?: string }) =>
        error.code === "TUF_THRESHOLD_NOT_MET" &&
        /^firmware: 0 ECDSA and 0 ML-DSA valid signatures/.test(error.message),
    );
  });
  it("a copy of the store put back (no TPM) lowers the agent's floor until the server's record arrives; then the rollback is refused", async () => {
    await stopChild(agent);
    // The device's store put back from the backup taken at enrolment, on two copies of the device.
    const putBack = () => {
      const dir = join(tempDir("bulwark-counter-putback-"), "state");
      cpSync(backup, dir, { recursive: true });
      return dir;
    };
    const rollback = note(productId, jobId(), "1.0.0", { rollback: true });
    const tls = await productDevice(server, productId);

    // Positive control: with the store put back and no word from the server, the rollback installs.
    const unaware = putBack();
    assert.equal((await runAgentJob(server, unaware, tls, rollback)).state, "succeeded");

    // The same device, put back, connects: the server sends its record of what the device installed.
    const dir = putBack();
    const child = spawnAgent(dir);
    const lines: string[] = [];
    child.stdout!.on("data", (d: Buffer) => lines.push(...d.toString("utf8").split("\n")));
    try {
      await waitFor("the agent raised its floor to the server's record", async () =>
        lines.some(
          (l) =>
            l.includes("below the server's record of what this device installed") &&
            l.includes('"component":"firmware"') &&
            l.includes('"counter":1'),
        ),
      );
    } finally {
      await stopChild(child);
    }
    const end = await runAgentJob(server, dir, tls, { ...rollback, jobId: jobId() });
    assert.equal(end.state, "rejected");
    assert.equal(
      end.reason,
      "rollback below the anti-rollback floor 1 (the highest signed counter installed) refused: 1.0.0 has counter 0",
    );
    // Positive control: a legitimate install (counter 1, not a rollback) still works on it.
    assert.equal((await runAgentJob(server, dir, tls, note(productId, jobId(), "1.1.0"))).state, "succeeded");
    agent = startAgent();
  });
});

const jobId = () => `job-${Math.random().toString(36).slice(2)}`;

/** An update agent in this process, on `stateDir`, runs one job against the real server to its end. */
async function runAgentJob(
  server: TestServer,
  stateDir: string,
  device: EnrolledDevice,
  job: JobNotify,
  store = openAgentStore(stateDir, { tpm: null }),
): Promise<JobStatusReport> {
  const reports: JobStatusReport[] = [];
  const updates = new UpdateAgent({
    stateDir,
    store,
    serverUrl: server.httpUrl,
    tls: () => ({ ca: server.rootPem, cert: device.certChainPem, key: device.keyPem }),
    report: (_jobId, report) => reports.push(report),
    log: silent,
  });
  await updates.start();
  updates.onNotify(job);
  const end = await waitFor("job end", async () => reports.find((r) => ended(r.state)));
  await updates.stop();
  return end;
}

function note(productId: string, jobId: string, version: string, extra: Partial<JobNotify> = {}): JobNotify {
  return updateNote(productId, `firmware/${version}/image.bin`, version, { jobId, ...extra });
}

/**
 * Targets published before counters were signed have no `antiRollbackCounter`: here an older
 * server is stood in for by re-signing the releases' targets without it. They install; the
 * version floor still refuses a rollback below a security release; the first target with a
 * counter migrates the floor to the counter of the installed version, counted from the signed
 * targets.
 */
describe("targets without a signed counter (published before it): the version rule, then a migrated floor", () => {
  let server: TestServer;
  let productId: string;
  let device: EnrolledDevice;

  const newDevice = () => {
    const dir = tempDir("bulwark-counter-legacy-");
    writeFileSync(
      join(dir, "updates.json"),
      JSON.stringify({ hardwareRevision: "rev-a", downloadRetries: 0 }),
    );
    return {
      run: (version: string, extra: Partial<JobNotify> = {}) =>
        runAgentJob(server, dir, device, note(productId, jobId(), version, extra)),
      installed: () => new JobStore(openAgentStore(dir, { tpm: null }), dir, silent).installed(),
    };
  };

  before(async () => {
    server = await startTestServer();
    productId = (await server.api<{ id: string }>("POST", "/api/v1/products", { name: "Legacy L1" })).body.id;
    await publishedRelease(server, productId, "0.9.0");
    await publishedRelease(server, productId, "1.0.0", { classification: "security" });
    await publishedRelease(server, productId, "1.1.0");
    const dataDir = join(server.dir, "data");
    const custody = new FileKeyCustody({
      dir: join(dataDir, "keys"),
      masterKey: loadMasterKey(dataDir, undefined).key,
    });
    await withRepository({ store: server.store, custody }, productId, async (ctx) => {
      const targets = ctx.repo.targets("firmware")!.targets;
      for (const [path, target] of Object.entries(targets)) {
        const { antiRollbackCounter, ...custom } = target.custom ?? {};
        assert.equal(typeof antiRollbackCounter, "number");
        ctx.repo.setTarget(path, { ...target, custom } satisfies TargetFile, "firmware");
      }
      await ctx.repo.publish(ctx.signers);
      return { result: undefined };
    });
    device = await productDevice(server, productId);
  });
  after(async () => {
    await server.close();
  });

  it("they install, and the version floor refuses a rollback below the security release", async () => {
    const { run, installed } = newDevice();
    assert.equal((await run("1.0.0", { kind: "security" })).state, "succeeded");
    assert.equal((await run("1.1.0")).state, "succeeded");
    assert.deepEqual(installed().components.firmware, { version: "1.1.0", floor: "1.0.0" }, "no counter");
    const refused = await run("0.9.0", { rollback: true });
    assert.equal(refused.state, "rejected");
    assert.equal(refused.reason, "rollback below the anti-rollback floor 1.0.0 (a security release) refused");
    assert.equal(
      (await run("1.0.0", { rollback: true, kind: "security" })).state,
      "succeeded",
      "positive control",
    );
  });

  it("the first target with a counter migrates the floor; a target without one is then counted too", async () => {
    // The disagreement case on old targets: 1.1.0 installed after the skipped security release 1.0.0.
    const { run, installed } = newDevice();
    assert.equal((await run("0.9.0")).state, "succeeded");
    assert.equal((await run("1.1.0")).state, "succeeded");
    assert.deepEqual(installed().components.firmware, { version: "1.1.0", floor: null }, "no floor at all");
    await publishedRelease(server, productId, "1.2.0");
    assert.equal((await run("1.2.0")).state, "succeeded");
    assert.deepEqual(installed().components.firmware, { version: "1.2.0", floor: null, counter: 1 });
    assert.equal(
      (await run("1.1.0", { rollback: true })).state,
      "succeeded",
      "same counter, no counter field",
    );
    const refused = await run("0.9.0", { rollback: true });
    assert.equal(refused.state, "rejected");
    assert.equal(
      refused.reason,
      "rollback below the anti-rollback floor 1 (the highest signed counter installed) refused: 0.9.0 has counter 0 (counted from the signed targets)",
    );
  });
});
