import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
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
import { createRelease, uploadArtifact } from "../update-helpers.ts";

interface Job {
  state: string;
  reason: string | null;
}

describe("the agent installs updates: TUF over mutual TLS, A/B slots with health check and rollback, config files", () => {
  let server: TestServer;
  let productId: string;
  let agent: ChildProcess;
  let stateDir: string;
  let deviceId: string;
  let hookLog: string;
  const slots = () => JSON.parse(readFileSync(join(stateDir, "updates", "slots", "slots.json"), "utf8"));
  const settings = (extra: Record<string, unknown>) =>
    writeFileSync(
      join(stateDir, "updates.json"),
      JSON.stringify({
        hardwareRevision: "rev-a",
        checkIntervalMs: 500,
        notifyHook: ["/bin/sh", "-c", `echo "$BULWARK_UPDATE_EVENT $BULWARK_UPDATE_VERSION" >> ${hookLog}`],
        ...extra,
      }),
    );

  async function release(
    version: string,
    files: { name: string; body: Buffer; kind?: "binary" | "config" }[],
  ) {
    const id = await createRelease(server, productId, version, "security");
    for (const f of files)
      assert.equal((await uploadArtifact(server, id, f.name, f.body, f.kind)).status, 201);
    await server.api("PUT", `/api/v1/releases/${id}/update`, {
      hardware: ["rev-a"],
      advisory: {
        summary: `security fixes in ${version}`,
        severity: "high",
        cves: [],
        action: "installs automatically",
      },
    });
    assert.equal((await server.api("POST", `/api/v1/releases/${id}/publish`)).status, 200);
    return id;
  }

  async function deployAndWait(releaseId: string, until: (job: Job) => boolean): Promise<Job> {
    const created = await server.api<{ id: string }>("POST", "/api/v1/deployments", {
      releaseId,
      devices: [deviceId],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return waitFor(
      "job outcome",
      async () => {
        const jobs = await server.api<{ items: Job[] }>("GET", `/api/v1/deployments/${created.body.id}/jobs`);
        const job = jobs.body.items[0];
        return job && until(job) && job;
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
  const ended = (j: Job) => ["succeeded", "failed", "rolled_back", "rejected"].includes(j.state);

  before(async () => {
    server = await startTestServer();
    productId = (await server.api<{ id: string }>("POST", "/api/v1/products", { name: "Router A1" })).body.id;
    ({ stateDir, deviceId } = await enrolAgent(server, await createToken(server)));
    hookLog = join(tempDir("bulwark-hook-"), "events.log");
    await server.api("PATCH", `/api/v1/devices/${deviceId}`, { product: productId });
    settings({});
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

  it("installs a security release into the inactive slot, switches, checks health and commits", async () => {
    const image = randomBytes(300 * 1024);
    const job = await deployAndWait(await release("1.0.0", [{ name: "router.img", body: image }]), ended);
    assert.equal(job.state, "succeeded", job.reason ?? "");
    assert.deepEqual(slots(), { active: "b", versions: { a: null, b: "1.0.0" }, trial: null });
    assert.deepEqual(readFileSync(join(stateDir, "updates", "slots", "slot-b.img")), image);
    await waitFor(
      "notification hook ran",
      async () => existsSync(hookLog) && readFileSync(hookLog, "utf8").includes("installed 1.0.0"),
    );
    assert.match(readFileSync(hookLog, "utf8"), /available 1\.0\.0/);
  });

  it("rolls back on its own when the health check fails", async () => {
    settings({ healthCheck: ["/bin/false"] });
    const job = await deployAndWait(
      await release("1.1.0", [{ name: "router.img", body: randomBytes(1024) }]),
      ended,
    );
    assert.equal(job.state, "rolled_back");
    assert.match(job.reason!, /health check failed/);
    assert.deepEqual(
      slots(),
      { active: "b", versions: { a: "1.1.0", b: "1.0.0" }, trial: null },
      "slot b (1.0.0) is active again",
    );
  });

  it("after a SIGKILL during the trial (before commit) it rolls back at the next start and reports it", async () => {
    // The health check kills the agent itself: the new slot is switched to, never committed.
    settings({ healthCheck: ["/bin/sh", "-c", "kill -9 $PPID; sleep 5"] });
    const id = await release("1.2.0", [{ name: "router.img", body: randomBytes(2048) }]);
    const created = await server.api<{ id: string }>("POST", "/api/v1/deployments", {
      releaseId: id,
      devices: [deviceId],
    });
    await waitFor("agent killed", async () => agent.exitCode !== null || agent.signalCode !== null, 60_000);
    assert.equal(slots().trial?.version, "1.2.0", "killed while the new slot was on trial");
    settings({});
    agent = startAgent();
    const job = await waitFor(
      "rolled back after restart",
      async () => {
        const jobs = await server.api<{ items: Job[] }>("GET", `/api/v1/deployments/${created.body.id}/jobs`);
        return jobs.body.items[0]?.state === "rolled_back" && jobs.body.items[0];
      },
      60_000,
    );
    assert.match(job.reason!, /not committed before a restart/);
    assert.equal(slots().active, "b");
    assert.equal(slots().trial, null);
  });

  it("installs a configuration file atomically", async () => {
    const config = Buffer.from("max_clients = 64\n");
    const job = await deployAndWait(
      await release("1.3.0", [{ name: "router.conf", body: config, kind: "config" }]),
      ended,
    );
    assert.equal(job.state, "succeeded", job.reason ?? "");
    assert.deepEqual(readFileSync(join(stateDir, "updates", "config", "router.conf")), config);
  });

  it("refuses an older version than the one installed (rollback protection)", async () => {
    const older = await createRelease(server, productId, "1.0.5", "feature");
    await uploadArtifact(server, older, "router.img", randomBytes(100));
    // Published as another component's version line would be refused; a rollback deployment is the way.
    await server.api("PUT", `/api/v1/releases/${older}/update`, { hardware: ["rev-a"] });
    const refused = await server.api<{ code: string }>("POST", `/api/v1/releases/${older}/publish`);
    assert.equal(refused.body.code, "BW_ERR_VERSION_NOT_INCREASING");
  });

  it("the device user opts out of automatic install: an optional update waits, deferred with the reason", async () => {
    const before = slots();
    const out = await runCli(AGENT, ["updates", "opt-out", "--state-dir", stateDir]);
    assert.equal(out.code, 0, out.stderr);
    const id = await createRelease(server, productId, "1.4.0", "feature");
    await uploadArtifact(server, id, "router.img", randomBytes(512));
    await server.api("PUT", `/api/v1/releases/${id}/update`, { hardware: ["rev-a"] });
    assert.equal((await server.api("POST", `/api/v1/releases/${id}/publish`)).status, 200);
    const job = await deployAndWait(id, (j) => j.state === "deferred");
    assert.match(job.reason!, /automatic install is off/);
    const status = await runCli(AGENT, ["updates", "status", "--state-dir", stateDir]);
    assert.equal(JSON.parse(status.stdout).consent.automatic, false);
    assert.deepEqual(slots(), before, "nothing installed while waiting");
  });
});
