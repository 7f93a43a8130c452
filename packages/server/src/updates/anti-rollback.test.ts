import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { isFloorNotice, type JobNotify } from "@bulwark/sdk/wire/jobs";
import { deviceTopics } from "@bulwark/sdk/wire/topics";
import type { MqttClient } from "mqtt";
import type { EnrolledDevice } from "../../../../test/enrol-helpers.ts";
import { CLI, runCli, startTestServer, type TestServer, waitFor } from "../../../../test/helpers.ts";
import { connectDevice } from "../../../../test/mqtt-helpers.ts";
import { productDevice, publishedRelease } from "../../../../test/update-helpers.ts";
import { counterAt, releaseGuard } from "./anti-rollback.ts";

interface SimDevice extends EnrolledDevice {
  client: MqttClient;
  notes: JobNotify[];
}

interface Summary {
  eligible: number;
  incompatible: number;
  belowFloor: number;
  jobs: Record<string, number>;
}

it("a release's counter counts the security releases at or below its version", () => {
  const security = ["1.1.0", "2.0.0"];
  assert.equal(counterAt(security, "1.0.0"), 0);
  assert.equal(counterAt(security, "1.1.0"), 1);
  assert.equal(counterAt(security, "1.9.9"), 1);
  assert.equal(counterAt(security, "2.0.0"), 2);
  assert.equal(counterAt(security, "not-semver"), 0);
  assert.equal(counterAt(security, undefined), 0);
});

/**
 * Issue #15: "a fleet rollback to the last known-good release guarded by an anti-rollback
 * counter", enforced by the server too. Releases 1.0.0 (feature, counter 0), 1.1.0 (security,
 * counter 1), 1.2.0 and 1.3.0 (feature, counter 1). Device A reports firmware 1.2.0, device B
 * installed 1.3.0 through a deployment, device C reports 1.0.0: A and B have floor 1, C none.
 */
describe("server-side anti-rollback: deployments and fleet rollbacks below a device's floor", () => {
  let server: TestServer;
  let env: Record<string, string>;
  let productId: string;
  const release: Record<string, string> = {};
  const devices: SimDevice[] = [];
  let a: SimDevice;
  let b: SimDevice;
  let c: SimDevice;

  async function simDevice(
    firmwareVersion?: string,
    antiRollbackCounters?: Record<string, number>,
  ): Promise<SimDevice> {
    const enrolled = await productDevice(server, productId, "fleet");
    const client = await connectDevice(server, enrolled);
    const topics = deviceTopics(enrolled.deviceId);
    const sim: SimDevice = { ...enrolled, client, notes: [] };
    client.on("message", (_topic, payload) => sim.notes.push(JSON.parse(payload.toString()) as JobNotify));
    await client.subscribeAsync(topics.jobsNotify, { qos: 1 });
    await client.publishAsync(
      topics.meta,
      JSON.stringify({ hardwareRevision: "rev-a", firmwareVersion, antiRollbackCounters }),
      {
        qos: 1,
      },
    );
    await waitFor("metadata stored", async () => {
      const row = await server.store.get<{ metadata: string }>(`SELECT metadata FROM devices WHERE id = ?`, [
        enrolled.deviceId,
      ]);
      return JSON.parse(row!.metadata).hardwareRevision === "rev-a";
    });
    devices.push(sim);
    return sim;
  }

  /** The signed `custom.antiRollbackCounter` of each firmware target (TUF spec §4.5), by version. */
  async function signedCounters(): Promise<Record<string, unknown>> {
    const rows = await server.store.all<{ name: string; body: Uint8Array }>(
      `SELECT name, body FROM tuf_files WHERE product_id = ?`,
      [productId],
    );
    type Role = {
      signed: { version: number; targets: Record<string, { custom?: Record<string, unknown> }> };
    };
    const role = rows
      .filter((r) => /(^|\.)firmware\.json$/.test(r.name))
      .map((r) => JSON.parse(Buffer.from(r.body).toString("utf8")) as Role)
      .sort((x, y) => y.signed.version - x.signed.version)[0]!;
    return Object.fromEntries(
      Object.values(role.signed.targets).map((t) => [t.custom?.version, t.custom?.antiRollbackCounter]),
    );
  }

  const deploy = (body: Record<string, unknown>) =>
    server.api<{ id: string; code: string; detail: string }>("POST", "/api/v1/deployments", body);
  const status = async (id: string) => (await server.api<Summary>("GET", `/api/v1/deployments/${id}`)).body;

  before(async () => {
    server = await startTestServer();
    env = {
      BULWARK_URL: server.httpUrl,
      BULWARK_API_KEY: server.adminKey,
      BULWARK_CA_FILE: server.rootPemPath,
    };
    productId = (await server.api<{ id: string }>("POST", "/api/v1/products", { name: "Lock L9" })).body.id;
    assert.equal((await server.api("POST", "/api/v1/groups", { name: "fleet" })).status, 201);
    release["1.0.0"] = await publishedRelease(server, productId, "1.0.0");
    release["1.1.0"] = await publishedRelease(server, productId, "1.1.0", { classification: "security" });
    release["1.2.0"] = await publishedRelease(server, productId, "1.2.0");
    release["1.3.0"] = await publishedRelease(server, productId, "1.3.0");
    a = await simDevice("1.2.0");
    b = await simDevice();
    c = await simDevice("1.0.0");
    // B installs 1.3.0 through the server: its succeeded job is the server's record of its floor.
    const forward = await deploy({
      releaseId: release["1.3.0"],
      devices: [b.deviceId],
      strategy: { kind: "all-at-once" },
    });
    assert.equal(forward.status, 201, JSON.stringify(forward.body));
    const note = await waitFor("B notified", async () =>
      b.notes.find((n) => n.deploymentId === forward.body.id),
    );
    for (const state of ["downloading", "verifying", "installing", "succeeded"])
      await b.client.publishAsync(deviceTopics(b.deviceId).jobStatus(note.jobId), JSON.stringify({ state }), {
        qos: 1,
      });
    await waitFor("B succeeded", async () => (await status(forward.body.id)).jobs.succeeded === 1);
  });
  after(async () => {
    for (const d of devices) d.client.end(true);
    await server.close();
  });

  it("each target is signed with the server's counter of its release", async () => {
    assert.deepEqual(await signedCounters(), { "1.0.0": 0, "1.1.0": 1, "1.2.0": 1, "1.3.0": 1 });
    for (const [version, id] of Object.entries(release))
      assert.equal(
        (await releaseGuard(server.store, id))?.counter,
        (await signedCounters())[version],
        version,
      );
  });

  it("refuses a fleet rollback below the floor with a problem document naming the devices", async () => {
    const refused = await deploy({ releaseId: release["1.0.0"], group: "fleet", rollback: true });
    assert.equal(refused.status, 409);
    assert.match(String(refused.headers["content-type"]), /^application\/problem\+json/);
    assert.equal(refused.body.code, "BW_ERR_ANTI_ROLLBACK");
    assert.match(
      refused.body.detail,
      /^firmware 1\.0\.0 has anti-rollback counter 0, below the floor of 2 targeted device\(s\)/,
    );
    assert.match(refused.body.detail, new RegExp(`${a.deviceId} \\(counter 1, 1\\.2\\.0 installed\\)`));
    assert.match(refused.body.detail, new RegExp(`${b.deviceId} \\(counter 1, 1\\.3\\.0 installed\\)`));
    assert.doesNotMatch(refused.body.detail, new RegExp(c.deviceId));
    assert.match(refused.body.detail, /; the oldest release they all accept is 1\.1\.0$/);
    const stored = await server.api<{ items: { releaseId: string }[] }>(
      "GET",
      `/api/v1/deployments?releaseId=${release["1.0.0"]}`,
    );
    assert.equal(stored.body.items.length, 0, "nothing stored");

    const cli = await runCli(CLI, ["deploy", release["1.0.0"]!, "--group", "fleet", "--rollback"], env);
    assert.equal(cli.code, 1);
    assert.equal(cli.stderr.trim().split("\n").length, 1, "one readable line");
    assert.match(
      cli.stderr,
      /anti-rollback counter 0, below the floor of 2 targeted device\(s\).*\(BW_ERR_ANTI_ROLLBACK\)$/m,
    );
  });

  it("allows a rollback to the last known-good release with the same counter", async () => {
    const allowed = await deploy({
      releaseId: release["1.2.0"],
      group: "fleet",
      rollback: true,
      strategy: { kind: "all-at-once" },
    });
    assert.equal(allowed.status, 201, JSON.stringify(allowed.body));
    const summary = await waitFor("jobs created", async () => {
      const s = await status(allowed.body.id);
      return Object.values(s.jobs).reduce((n, v) => n + v, 0) === 3 && s;
    });
    assert.equal(summary.belowFloor, 0);
    assert.equal(summary.eligible, 3);
    assert.equal((await server.api("POST", `/api/v1/deployments/${allowed.body.id}/cancel`)).status, 200);
  });

  it("refuses a device-list deployment naming a device above the release, allows one that is not", async () => {
    const refused = await deploy({ releaseId: release["1.0.0"], devices: [c.deviceId, a.deviceId] });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.code, "BW_ERR_ANTI_ROLLBACK");
    assert.match(refused.body.detail, /below the floor of 1 targeted device\(s\)/);
    const allowed = await deploy({ releaseId: release["1.0.0"], devices: [c.deviceId] });
    assert.equal(allowed.status, 201, "C has no floor: positive control");
    assert.equal((await server.api("POST", `/api/v1/deployments/${allowed.body.id}/cancel`)).status, 200);
  });

  it("a forward deployment of an older release to the group leaves out the devices above it, counted", async () => {
    const created = await deploy({
      releaseId: release["1.0.0"],
      group: "fleet",
      strategy: { kind: "all-at-once" },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id;
    const notified = await waitFor("C notified", async () => c.notes.find((n) => n.deploymentId === id));
    assert.equal(notified.version, "1.0.0");
    const jobs = await server.api<{ items: { deviceId: string }[] }>("GET", `/api/v1/deployments/${id}/jobs`);
    assert.deepEqual(
      jobs.body.items.map((j) => j.deviceId),
      [c.deviceId],
      "A and B get no job (created in the same pass as C's)",
    );
    const summary = await status(id);
    assert.equal(summary.eligible, 1);
    assert.equal(summary.belowFloor, 2);
    const shown = await runCli(CLI, ["deploy", "status", id], env);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /0\/1 succeeded, 0 failed, 2 below their anti-rollback floor/);
  });

  it("after a newer security release, the same-counter rollback still passes and the new floor is enforced", async () => {
    release["2.0.0"] = await publishedRelease(server, productId, "2.0.0", { classification: "security" });
    // Counter 1 is now below the newest (2): the floors are read, A and B are at 1, C at 0.
    const allowed = await deploy({
      releaseId: release["1.2.0"],
      devices: [a.deviceId, b.deviceId],
      rollback: true,
    });
    assert.equal(allowed.status, 201, JSON.stringify(allowed.body));
    assert.equal((await server.api("POST", `/api/v1/deployments/${allowed.body.id}/cancel`)).status, 200);
    const d = await simDevice("2.0.0");
    const refused = await deploy({ releaseId: release["1.2.0"], group: "fleet", rollback: true });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.code, "BW_ERR_ANTI_ROLLBACK");
    assert.match(
      refused.body.detail,
      new RegExp(
        `below the floor of 1 targeted device\\(s\\): ${d.deviceId} \\(counter 2, 2\\.0\\.0 installed\\); the oldest release they all accept is 2\\.0\\.0$`,
      ),
    );
    // A counter once signed never changes: the new security release raised only its own.
    const signed: Record<string, unknown> = await signedCounters();
    assert.deepEqual({ ...signed }, { "1.0.0": 0, "1.1.0": 1, "1.2.0": 1, "1.3.0": 1, "2.0.0": 2 });
    for (const [version, id] of Object.entries(release))
      assert.equal((await releaseGuard(server.store, id))?.counter, signed[version], version);
  });

  it("a device that reports its floor has that one, not the server's derivation", async () => {
    // E reports firmware 1.0.0 (derived floor 0) but counter 2; F reports 2.0.0 (derived 2) but counter 1.
    const e = await simDevice("1.0.0", { firmware: 2 });
    const f = await simDevice("2.0.0", { firmware: 1 });
    const refused = await deploy({ releaseId: release["1.2.0"], devices: [e.deviceId, f.deviceId] });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.code, "BW_ERR_ANTI_ROLLBACK");
    assert.match(
      refused.body.detail,
      new RegExp(
        `below the floor of 1 targeted device\\(s\\): ${e.deviceId} \\(counter 2, reported by the device\\);`,
      ),
    );
    const allowed = await deploy({ releaseId: release["1.2.0"], devices: [f.deviceId], rollback: true });
    assert.equal(allowed.status, 201, "F's own floor is 1: positive control");
    assert.equal((await server.api("POST", `/api/v1/deployments/${allowed.body.id}/cancel`)).status, 200);
  });

  it("a device whose report fell below its succeeded jobs (its store put back): the server's record holds, and is sent to it on subscribe", async () => {
    const topics = deviceTopics(b.deviceId);
    // B installed 1.3.0 (counter 1) through the server, and now reports floor 0.
    await b.client.publishAsync(
      topics.meta,
      JSON.stringify({ hardwareRevision: "rev-a", antiRollbackCounters: { firmware: 0 } }),
      { qos: 1 },
    );
    await waitFor("B's lower report stored", async () => {
      const row = await server.store.get<{ metadata: string }>(`SELECT metadata FROM devices WHERE id = ?`, [
        b.deviceId,
      ]);
      return JSON.parse(row!.metadata).antiRollbackCounters?.firmware === 0;
    });
    const refused = await deploy({ releaseId: release["1.0.0"], devices: [b.deviceId], rollback: true });
    assert.equal(refused.status, 409);
    assert.match(refused.body.detail, new RegExp(`${b.deviceId} \\(counter 1, 1\\.3\\.0 installed\\)`));
    // Positive control: the last known-good at the same counter is allowed.
    const allowed = await deploy({ releaseId: release["1.2.0"], devices: [b.deviceId], rollback: true });
    assert.equal(allowed.status, 201, JSON.stringify(allowed.body));
    assert.equal((await server.api("POST", `/api/v1/deployments/${allowed.body.id}/cancel`)).status, 200);

    // B subscribes again: the server's record of its floor comes first on `jobs/notify`.
    const seen = b.notes.length;
    await b.client.unsubscribeAsync(topics.jobsNotify);
    await b.client.subscribeAsync(topics.jobsNotify, { qos: 1 });
    const notice = await waitFor("the floor notice", async () =>
      b.notes.slice(seen).find((n) => (n as unknown as { type: string }).type === "anti-rollback-floor"),
    );
    assert.deepEqual((notice as unknown as { counters: unknown }).counters, { firmware: 1 });
    assert.ok(isFloorNotice(notice));
  });
});
