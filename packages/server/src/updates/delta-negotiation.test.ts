import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { deltaTargetPath, parseDeltaCustom } from "@bulwark/sdk/wire/delta";
import type { JobNotify } from "@bulwark/sdk/wire/jobs";
import { deviceTopics } from "@bulwark/sdk/wire/topics";
import type { MqttClient } from "mqtt";
import { nextRelease, realBinary } from "../../../../test/delta-images.ts";
import type { EnrolledDevice } from "../../../../test/enrol-helpers.ts";
import { startTestServer, type TestServer, waitFor } from "../../../../test/helpers.ts";
import { connectDevice } from "../../../../test/mqtt-helpers.ts";
import { freshSchema, needServices } from "../../../../test/services.ts";
import {
  createRelease,
  deviceTufClient,
  productDevice,
  uploadArtifact,
} from "../../../../test/update-helpers.ts";

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const KiB = 1024;

/** A simulated device: its agent's metadata published over MQTT, its job notifications collected. */
interface SimDevice extends EnrolledDevice {
  client: MqttClient;
  notes: JobNotify[];
}

interface Summary {
  status: string;
  eligible: number;
  deltaFormats: string[];
  deltaUnsupported: number;
  deltaUnsupportedReason: string | null;
  spec: { delta: string };
}

interface Problem {
  code: string;
  detail: string;
}

/**
 * Issue #15 item 10: the server learns which delta formats each device's agent applies (its
 * metadata's `deltaFormats`; none advertised: zstd-dict only) and sends a deployment that requires
 * a delta only to the devices that can apply the release's; a per-product default delta policy.
 */
describe("delta formats per device and the product's default delta policy", () => {
  let server: TestServer;
  let productId: string;
  const devices: SimDevice[] = [];
  const releases: Record<string, string> = {};
  // Under the 256 KiB zstd-dict cap: 1.0.0 and 1.1.0 (zstd-dict delta); 2.0.0 is over it (zstd-seg).
  const v1 = realBinary(160 * KiB);
  const v11 = nextRelease(v1).image;
  const v2 = Buffer.concat([v11, realBinary(1024 * KiB).subarray(200 * KiB)]);
  let old: SimDevice;
  let dictOnly: SimDevice;
  let current: SimDevice;

  /** Publishes the agent's metadata and waits until the server holds it. */
  async function advertise(d: SimDevice, metadata: Record<string, unknown>): Promise<void> {
    const marker = `rev-${Math.random().toString(36).slice(2, 8)}`;
    await d.client.publishAsync(
      deviceTopics(d.deviceId).meta,
      JSON.stringify({ ...metadata, hardwareRevision: marker }),
      { qos: 1 },
    );
    await waitFor("metadata stored", async () => {
      const got = await server.api<{ metadata: { hardwareRevision?: string } }>(
        "GET",
        `/api/v1/devices/${d.deviceId}`,
      );
      return got.body.metadata.hardwareRevision === marker;
    });
  }

  async function simDevice(group: string, metadata: Record<string, unknown>): Promise<SimDevice> {
    const enrolled = await productDevice(server, productId, group);
    const client = await connectDevice(server, enrolled);
    const sim: SimDevice = { ...enrolled, client, notes: [] };
    client.on("message", (_t, payload) => sim.notes.push(JSON.parse(payload.toString()) as JobNotify));
    await client.subscribeAsync(deviceTopics(enrolled.deviceId).jobsNotify, { qos: 1 });
    await advertise(sim, metadata);
    devices.push(sim);
    return sim;
  }

  /** Publishes a release; its deltas once all are signed (segmented ones are computed after the publish). */
  async function publish(version: string, image: Buffer): Promise<{ format?: string }[]> {
    const id = await createRelease(server, productId, version);
    releases[version] = id;
    assert.equal((await uploadArtifact(server, id, "image.bin", image)).status, 201);
    const published = await server.api<{ deltas: { format?: string }[]; deltasPending: unknown[] }>(
      "POST",
      `/api/v1/releases/${id}/publish`,
    );
    assert.equal(published.status, 200, JSON.stringify(published.body));
    if (published.body.deltasPending.length === 0) return published.body.deltas;
    const jobs = await waitFor("the background deltas computed", async () => {
      const { items } = (
        await server.api<{ items: { state: string; format: string }[] }>(
          "GET",
          `/api/v1/releases/${id}/deltas`,
        )
      ).body;
      return items.every((j) => j.state === "ready") && items;
    });
    return [...published.body.deltas, ...jobs.map((j) => ({ format: j.format }))];
  }

  const deploy = (body: Record<string, unknown>) =>
    server.api<{ id: string; spec: { delta: string } } & Problem>("POST", "/api/v1/deployments", body);
  const summary = async (id: string) => (await server.api<Summary>("GET", `/api/v1/deployments/${id}`)).body;
  const jobDevices = async (id: string) =>
    (await server.api<{ items: { deviceId: string }[] }>("GET", `/api/v1/deployments/${id}/jobs`)).body.items
      .map((j) => j.deviceId)
      .sort();
  const noteOf = (d: SimDevice, deploymentId: string) => d.notes.find((n) => n.deploymentId === deploymentId);
  const cancel = async (id: string) =>
    assert.equal((await server.api("POST", `/api/v1/deployments/${id}/cancel`)).status, 200);

  before(async () => {
    server = await startTestServer({ args: ["--delta-max-image-bytes", String(256 * KiB)] });
    productId = (await server.api<{ id: string }>("POST", "/api/v1/products", { name: "Delta N1" })).body.id;
    for (const name of ["lab", "field"])
      assert.equal((await server.api("POST", "/api/v1/groups", { name })).status, 201);
    old = await simDevice("lab", {}); // an agent from before the advertisement
    dictOnly = await simDevice("lab", { deltaFormats: ["zstd-dict"] });
    current = await simDevice("lab", { deltaFormats: ["zstd-dict", "zstd-seg"] });
    assert.deepEqual(await publish("1.0.0", v1), []);
    assert.deepEqual(
      (await publish("1.1.0", v11)).map((d) => d.format),
      ["zstd-dict"],
    );
    assert.deepEqual(
      (await publish("2.0.0", v2)).map((d) => d.format),
      ["zstd-seg"],
      `${v2.length} bytes are over the 256 KiB zstd-dict cap`,
    );
  });
  after(async () => {
    for (const d of devices) d.client.end(true);
    await server.close();
  });

  it("stores what each agent advertises; none advertised reads as null", async () => {
    const formats = async (d: SimDevice) =>
      (await server.api<{ deltaFormats: string[] | null }>("GET", `/api/v1/devices/${d.deviceId}`)).body
        .deltaFormats;
    assert.equal(await formats(old), null);
    assert.deepEqual(await formats(dictOnly), ["zstd-dict"]);
    assert.deepEqual(await formats(current), ["zstd-dict", "zstd-seg"]);
  });

  it("require of a zstd-dict release reaches every device (an agent that says nothing knows zstd-dict)", async () => {
    const created = await deploy({ releaseId: releases["1.1.0"], group: "lab", delta: "require" });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id;
    await waitFor("all three notified", async () => devices.every((d) => noteOf(d, id)));
    const s = await summary(id);
    assert.equal(s.eligible, 3);
    assert.deepEqual(s.deltaFormats, ["zstd-dict"]);
    assert.equal(s.deltaUnsupported, 0);
    assert.equal(s.deltaUnsupportedReason, null);
    await cancel(id);
  });

  it("require of a zstd-seg release: agents that cannot apply it are left out with the reason, the newer one is served the delta, an upgraded one is taken in", async () => {
    const created = await deploy({ releaseId: releases["2.0.0"], group: "lab", delta: "require" });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id;
    const note = await waitFor("the newer agent notified", async () => noteOf(current, id));
    assert.equal(note.delta, "require");
    assert.deepEqual(await jobDevices(id), [current.deviceId], "no job for the two older agents");
    const s = await summary(id);
    assert.equal(s.eligible, 1);
    assert.deepEqual(s.deltaFormats, ["zstd-seg"]);
    assert.equal(s.deltaUnsupported, 2);
    assert.match(
      s.deltaUnsupportedReason!,
      /^2 device\(s\) whose agent cannot apply zstd-seg deltas \(an agent that advertises no delta formats is taken to know zstd-dict only\) are left out: the deployment requires a delta; each is taken in once its agent advertises the format/,
    );

    // The newer device finds its delta in the signed metadata and downloads it (TUF spec §5.7.3).
    const tuf = await deviceTufClient(server, current, productId);
    const info = await tuf.getTargetInfo(deltaTargetPath(note.targets[0]!.path, sha256(v11)));
    assert.ok(info, "the delta from 1.1.0's image is a signed target");
    assert.equal(parseDeltaCustom(info.target.custom)?.format, "zstd-seg");
    const bytes = Buffer.from(await tuf.downloadTarget(info));
    assert.ok(bytes.length > 0 && bytes.length < v2.length, `${bytes.length} bytes for ${v2.length}`);

    // The older agent is upgraded: it advertises zstd-seg, and the next pass takes it in.
    await advertise(old, { deltaFormats: ["zstd-dict", "zstd-seg"] });
    await waitFor("the upgraded agent notified", async () => noteOf(old, id));
    assert.deepEqual(
      await jobDevices(id),
      [current.deviceId, old.deviceId].sort(),
      "still none for zstd-dict only",
    );
    const after = await summary(id);
    assert.equal(after.eligible, 2);
    assert.equal(after.deltaUnsupported, 1);
    await cancel(id);
    await advertise(old, {}); // back to an agent that says nothing, for the tests below
  });

  it("prefer of the zstd-seg release reaches every device; those that cannot apply it are counted on the full image", async () => {
    const created = await deploy({ releaseId: releases["2.0.0"], group: "lab", delta: "prefer" });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id;
    await waitFor("all three notified", async () => devices.every((d) => noteOf(d, id)));
    assert.ok(devices.every((d) => noteOf(d, id)!.delta === "prefer"));
    const s = await summary(id);
    assert.equal(s.eligible, 3);
    assert.equal(s.deltaUnsupported, 2);
    assert.match(
      s.deltaUnsupportedReason!,
      /^2 device\(s\) whose agent cannot apply zstd-seg deltas .* take the full image$/,
    );
    await cancel(id);
  });

  it("a device-list deployment requiring a delta its agent cannot apply is refused, naming the device", async () => {
    const refused = await deploy({
      releaseId: releases["2.0.0"],
      devices: [dictOnly.deviceId, old.deviceId],
      delta: "require",
    });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.code, "BW_ERR_DELTA_UNSUPPORTED");
    assert.match(
      refused.body.detail,
      new RegExp(`${dictOnly.deviceId} \\(lacks zstd-seg; applies zstd-dict\\)`),
    );
    assert.match(
      refused.body.detail,
      new RegExp(`${old.deviceId} \\(lacks zstd-seg; applies none advertised, zstd-dict assumed\\)`),
    );
    assert.match(refused.body.detail, /deploy with delta prefer/);
    // Positive controls: the same list under prefer, and the newer device alone under require.
    const preferred = await deploy({
      releaseId: releases["2.0.0"],
      devices: [dictOnly.deviceId, old.deviceId],
      delta: "prefer",
    });
    assert.equal(preferred.status, 201, JSON.stringify(preferred.body));
    await cancel(preferred.body.id);
    const accepted = await deploy({
      releaseId: releases["2.0.0"],
      devices: [current.deviceId],
      delta: "require",
    });
    assert.equal(accepted.status, 201, JSON.stringify(accepted.body));
    await cancel(accepted.body.id);
  });

  it("a product's default delta policy applies to deployments that set none, is audited, and a deployment's own wins", async () => {
    const settings = await server.api<{ delta: string; deltaSource: string }>(
      "GET",
      `/api/v1/products/${productId}/update`,
    );
    assert.equal(settings.status, 200);
    assert.deepEqual([settings.body.delta, settings.body.deltaSource], ["prefer", "server"]);
    const defaulted = await deploy({ releaseId: releases["2.0.0"], group: "field" });
    assert.equal(defaulted.body.spec.delta, "prefer", "no product default set: prefer");
    await cancel(defaulted.body.id);

    const set = await server.api<{ delta: string; deltaSource: string }>(
      "PUT",
      `/api/v1/products/${productId}/update`,
      {
        delta: "require",
      },
    );
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.deepEqual([set.body.delta, set.body.deltaSource], ["require", "product"]);
    const audit = await server.api<{
      items: { action: string; targetId: string; details: Record<string, unknown> }[];
    }>("GET", "/api/v1/audit?limit=1000");
    const entry = audit.body.items.find(
      (e) => e.action === "product.update-settings" && e.targetId === productId,
    );
    assert.deepEqual(entry?.details, { delta: "require", previous: "prefer" });

    const inherited = await deploy({ releaseId: releases["2.0.0"], group: "lab" });
    assert.equal(inherited.status, 201, JSON.stringify(inherited.body));
    assert.equal(inherited.body.spec.delta, "require", "the product's default");
    const s = await summary(inherited.body.id);
    assert.equal(s.deltaUnsupported, 2, "the product's require leaves the older agents out too");
    await cancel(inherited.body.id);
    const own = await deploy({ releaseId: releases["2.0.0"], group: "lab", delta: "off" });
    assert.equal(own.body.spec.delta, "off", "the deployment's own policy wins");
    await cancel(own.body.id);
    // A release without deltas under the product's require: refused, saying where require came from.
    const none = await deploy({ releaseId: releases["1.0.0"], group: "lab" });
    assert.equal(none.status, 400);
    assert.match(
      none.body.detail,
      /delta require \(the product's default delta policy; give delta to override it\) would fail every device/,
    );

    const bad = await server.api<Problem>("PUT", `/api/v1/products/${productId}/update`, {
      delta: "sometimes",
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, "BW_ERR_VALIDATION");
    const missing = await server.api<Problem>(
      "PUT",
      "/api/v1/products/00000000-0000-4000-8000-000000000000/update",
      {
        delta: "off",
      },
    );
    assert.equal(missing.status, 404);
    const back = await server.api<{ delta: string }>("PUT", `/api/v1/products/${productId}/update`, {
      delta: "prefer",
    });
    assert.equal(back.body.delta, "prefer", "set again (an update of the same row)");
  });
});

describe("delta formats and the product's default on PostgreSQL", () => {
  it("stores both and leaves out an agent that cannot apply the required delta", async (t) => {
    if (!(await needServices(t, ["postgres"]))) return;
    const schema = freshSchema();
    await schema.create();
    const server = await startTestServer({
      args: [
        "--store",
        "postgres",
        "--database-url",
        schema.url,
        "--delta-max-image-bytes",
        String(256 * KiB),
      ],
    });
    const clients: MqttClient[] = [];
    try {
      const productId = (await server.api<{ id: string }>("POST", "/api/v1/products", { name: "Delta NP" }))
        .body.id;
      const devices: { id: string; client: MqttClient }[] = [];
      for (const formats of [undefined, ["zstd-dict", "zstd-seg"]]) {
        const enrolled = await productDevice(server, productId);
        const client = await connectDevice(server, enrolled);
        clients.push(client);
        await client.publishAsync(
          deviceTopics(enrolled.deviceId).meta,
          JSON.stringify(formats ? { deltaFormats: formats } : { model: "old" }),
          { qos: 1 },
        );
        devices.push({ id: enrolled.deviceId, client });
      }
      await waitFor("metadata stored", async () => {
        const [a, b] = await Promise.all(
          devices.map(
            async (d) =>
              (
                await server.api<{ metadata: { model?: string }; deltaFormats: string[] | null }>(
                  "GET",
                  `/api/v1/devices/${d.id}`,
                )
              ).body,
          ),
        );
        return a!.metadata.model === "old" && b!.deltaFormats?.length === 2;
      });
      const v1 = realBinary(160 * KiB);
      const v11 = nextRelease(v1).image;
      let last = "";
      for (const [version, image] of [
        ["1.0.0", v1],
        ["1.1.0", v11],
        ["2.0.0", Buffer.concat([v11, realBinary(1024 * KiB).subarray(200 * KiB)])],
      ] as const) {
        last = await createRelease(server, productId, version);
        assert.equal((await uploadArtifact(server, last, "image.bin", image)).status, 201);
        assert.equal((await server.api("POST", `/api/v1/releases/${last}/publish`)).status, 200);
      }
      for (const delta of ["prefer", "require"])
        assert.equal(
          (await server.api("PUT", `/api/v1/products/${productId}/update`, { delta })).status,
          200,
        );
      const created = await server.api<{ id: string; spec: { delta: string } }>(
        "POST",
        "/api/v1/deployments",
        {
          releaseId: last,
          group: "default",
        },
      );
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.spec.delta, "require");
      const jobs = await waitFor("the newer agent's job", async () => {
        const got = await server.api<{ items: { deviceId: string }[] }>(
          "GET",
          `/api/v1/deployments/${created.body.id}/jobs`,
        );
        return got.body.items.length > 0 && got.body.items;
      });
      assert.deepEqual(
        jobs.map((j) => j.deviceId),
        [devices[1]!.id],
      );
      const s = await server.api<Summary>("GET", `/api/v1/deployments/${created.body.id}`);
      assert.equal(s.body.deltaUnsupported, 1);
    } finally {
      for (const c of clients) c.end(true);
      await server.close();
      await schema.drop();
    }
  });
});
