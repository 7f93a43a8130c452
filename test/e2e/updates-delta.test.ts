import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { nextRelease, realBinary } from "../delta-images.ts";
import {
  createToken,
  enrolAgent,
  spawnAgent,
  startTestServer,
  stopChild,
  type TestServer,
  waitFor,
} from "../helpers.ts";
import { createRelease, uploadArtifact } from "../update-helpers.ts";

interface Job {
  id: string;
  state: string;
  reason: string | null;
}
interface Published {
  deltas: { path: string; length: number; sha256: string; fullLength: number; format: string }[];
}

/**
 * Issue #15 item 10 end to end: a real agent process gets its second release as a binary delta
 * (rebuilt into the inactive slot's image and checked against the full target), a delta goes
 * under a metered cap the full image would exceed, and a tampered delta is refused with a reason
 * and nothing installed when the deployment requires deltas, or falls back to the full image when
 * it prefers them; an image over the zstd-dict cap installs from a segmented (zstd-seg) delta.
 */
describe("binary delta updates: a real agent against the server", () => {
  let server: TestServer;
  let productId: string;
  let agent: ChildProcess;
  let stateDir: string;
  let deviceId: string;
  const slots = () => JSON.parse(readFileSync(join(stateDir, "updates", "slots", "slots.json"), "utf8"));
  const activeImage = () => readFileSync(join(stateDir, "updates", "slots", `slot-${slots().active}.img`));
  const settings = (extra: Record<string, unknown>) =>
    writeFileSync(join(stateDir, "updates.json"), JSON.stringify({ checkIntervalMs: 500, ...extra }));
  const v1 = realBinary(2 * 1024 * 1024);
  const v2 = nextRelease(v1).image;
  const v3 = nextRelease(v2).image;
  const v4 = nextRelease(v3).image;
  const v5 = nextRelease(v4).image;

  const releaseIds: Record<string, string> = {};
  async function release(version: string, image: Buffer): Promise<{ id: string; published: Published }> {
    const id = await createRelease(server, productId, version);
    releaseIds[version] = id;
    assert.equal((await uploadArtifact(server, id, "fw.img", image)).status, 201);
    const published = await server.api<Published>("POST", `/api/v1/releases/${id}/publish`);
    assert.equal(published.status, 200);
    return { id, published: published.body };
  }

  async function deploy(
    releaseId: string,
    extra: Record<string, unknown> = {},
    until: (j: Job) => boolean = (j) => ["succeeded", "failed", "rolled_back", "rejected"].includes(j.state),
  ): Promise<Job & { deployment: string }> {
    const created = await server.api<{ id: string }>("POST", "/api/v1/deployments", {
      releaseId,
      devices: [deviceId],
      ...extra,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const job = await waitFor(
      "job end",
      async () => {
        const jobs = await server.api<{ items: Job[] }>("GET", `/api/v1/deployments/${created.body.id}/jobs`);
        const j = jobs.body.items[0];
        return j && until(j) && j;
      },
      60_000,
    );
    return { ...job, deployment: created.body.id };
  }

  async function events(job: Job & { deployment: string }) {
    const res = await server.api<{ items: { to_state: string; reason: string | null }[] }>(
      "GET",
      `/api/v1/deployments/${job.deployment}/jobs/${job.id}/events`,
    );
    return res.body.items;
  }

  before(async () => {
    // Images up to 3 MiB get zstd-dict deltas; the last release (3.4 MiB) a segmented one.
    server = await startTestServer({ args: ["--delta-max-image-bytes", String(3 * 1024 * 1024)] });
    productId = (await server.api<{ id: string }>("POST", "/api/v1/products", { name: "Delta E1" })).body.id;
    ({ stateDir, deviceId } = await enrolAgent(server, await createToken(server)));
    await server.api("PATCH", `/api/v1/devices/${deviceId}`, { product: productId });
    settings({});
    agent = spawnAgent(stateDir);
    await waitFor(
      "agent online",
      async () => (await server.api<{ online: boolean }>("GET", `/api/v1/devices/${deviceId}`)).body.online,
    );
  });
  after(async () => {
    await stopChild(agent);
    await server.close();
  });

  it("installs the first release from the full image (no image to apply a delta to)", async () => {
    const { id } = await release("1.0.0", v1);
    const job = await deploy(id);
    assert.equal(job.state, "succeeded", job.reason ?? "");
    assert.match(job.reason!, /fw\.img: full image of \d+ bytes/);
    assert.ok(activeImage().equals(v1));
  });

  it("installs the second release from a delta, rebuilt and checked against the full target", async () => {
    const { id, published } = await release("1.1.0", v2);
    assert.equal(published.deltas.length, 1);
    const job = await deploy(id);
    assert.equal(job.state, "succeeded", job.reason ?? "");
    assert.match(
      job.reason!,
      new RegExp(`fw\\.img: delta of ${published.deltas[0]!.length} bytes instead of ${v2.length}`),
    );
    assert.ok(activeImage().equals(v2), "the active slot holds the new image, byte for byte");
    assert.equal(slots().versions[slots().active], "1.1.0");
    const downloading = (await events(job)).find((e) => e.to_state === "downloading");
    assert.match(downloading!.reason!, /^delta: \d+ of \d+ bytes/, "the path taken is in the job's events");
  });

  it("on a metered network, a delta under the cap goes where the full image would wait", async () => {
    settings({ metered: true });
    const { id, published } = await release("1.2.0", v3);
    const cap = published.deltas[0]!.length + 1000;
    assert.ok(cap < v3.length);
    // Deltas off: the full image is over the cap, so the job waits (deferred), nothing downloaded.
    const full = await deploy(
      id,
      { network: { metered: "cap", maxMeteredBytes: cap }, delta: "off" },
      (j) => j.state === "deferred",
    );
    assert.match(full.reason!, new RegExp(`${v3.length} bytes exceed the metered cap of ${cap}`));
    assert.equal((await server.api("POST", `/api/v1/deployments/${full.deployment}/cancel`)).status, 200);
    // Deltas preferred: the same release goes, as a delta under the cap.
    const job = await deploy(id, { network: { metered: "cap", maxMeteredBytes: cap } });
    assert.equal(job.state, "succeeded", job.reason ?? "");
    assert.match(job.reason!, /delta of/);
    assert.ok(activeImage().equals(v3));
    settings({});
  });

  it("a tampered delta with delta required: refused with the reason, nothing installed; preferred: the full image", async () => {
    const { id, published } = await release("1.3.0", v4);
    const stored = join(
      server.dir,
      "data",
      "artifacts",
      published.deltas[0]!.sha256.slice(0, 2),
      published.deltas[0]!.sha256,
    );
    const bytes = readFileSync(stored);
    bytes[Math.floor(bytes.length / 2)] = bytes[Math.floor(bytes.length / 2)]! ^ 0xff;
    writeFileSync(stored, bytes);
    const before = slots();
    const refused = await deploy(id, { delta: "require" });
    assert.equal(refused.state, "failed");
    assert.match(
      refused.reason!,
      /delta refused: download: the sha(256|512) digest does not match.*requires a delta: nothing installed/,
    );
    assert.deepEqual(slots(), before, "nothing installed");
    // Positive control: the same release, deltas preferred, falls back to the full image.
    const fallback = await deploy(id, { delta: "prefer" });
    assert.equal(fallback.state, "succeeded", fallback.reason ?? "");
    assert.match(fallback.reason!, /full image of \d+ bytes after delta refused/);
    assert.ok(activeImage().equals(v4));
  });

  it("a device whose image is no delta's base: required deltas fail with the reason, nothing installed", async () => {
    const { id, published } = await release("1.4.0", v5);
    assert.equal(published.deltas.length, 1, "a delta exists, from 1.3.0's image");
    // The active slot changed on the device (a local modification): it is not 1.3.0's image any more.
    const slot = join(stateDir, "updates", "slots", `slot-${slots().active}.img`);
    const changed = readFileSync(slot);
    changed[100] = changed[100]! ^ 0xff;
    writeFileSync(slot, changed);
    const before = slots();
    const refused = await deploy(id, { delta: "require" });
    assert.equal(refused.state, "failed");
    assert.match(
      refused.reason!,
      /requires a delta and firmware\/1\.4\.0\/fw\.img has none usable: no signed delta from this device's image/,
    );
    assert.deepEqual(slots(), before, "nothing installed");
    assert.ok(readFileSync(slot).equals(changed));
  });

  it("an image over the zstd-dict cap installs from a segmented (zstd-seg) delta, with delta required", async () => {
    // The device is back on 1.4.0's image (the full image: its own was changed above).
    const reinstall = await deploy(releaseIds["1.4.0"]!);
    assert.equal(reinstall.state, "succeeded", reinstall.reason ?? "");
    assert.ok(activeImage().equals(v5));
    const v6 = Buffer.concat([nextRelease(v5).image, realBinary(4 * 1024 * 1024).subarray(3 * 1024 * 1024)]);
    const { id, published } = await release("1.5.0", v6);
    assert.equal(published.deltas.length, 1);
    assert.equal(published.deltas[0]!.format, "zstd-seg", `${v6.length} bytes are over the 3 MiB cap`);
    // The agent advertises the formats it applies: a device-list deployment requiring a zstd-seg
    // delta is accepted for it (an agent that said nothing would be refused, BW_ERR_DELTA_UNSUPPORTED).
    const device = await server.api<{ deltaFormats: string[] | null }>("GET", `/api/v1/devices/${deviceId}`);
    assert.deepEqual(device.body.deltaFormats, ["zstd-dict", "zstd-seg"]);
    const job = await deploy(id, { delta: "require" });
    assert.equal(job.state, "succeeded", job.reason ?? "");
    assert.match(
      job.reason!,
      new RegExp(`fw\\.img: delta of ${published.deltas[0]!.length} bytes instead of ${v6.length}`),
    );
    assert.ok(activeImage().equals(v6), "the active slot holds the new image, byte for byte");
  });
});
