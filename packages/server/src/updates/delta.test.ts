import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { constants, zstdDecompressSync } from "node:zlib";
import {
  decodeSegmentHeader,
  deltaTargetPath,
  parseDeltaCustom,
  SEGMENTED_MAGIC,
} from "@bulwark/sdk/wire/delta";
import { nextRelease, realBinary } from "../../../../test/delta-images.ts";
import type { EnrolledDevice } from "../../../../test/enrol-helpers.ts";
import { startTestServer, type TestServer, waitFor } from "../../../../test/helpers.ts";
import { freshSchema, needServices } from "../../../../test/services.ts";
import {
  createRelease,
  deviceGet,
  deviceTufClient,
  productDevice,
  uploadArtifact,
} from "../../../../test/update-helpers.ts";

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const MiB = 1024 * 1024;

interface Published {
  targets: string[];
  deltas: { path: string; length: number; fullLength: number; baseSha256: string }[];
  deltasSkipped: { artifact: string; baseVersion: string; reason: string }[];
  deltasPending?: { format: string }[];
}

describe("binary deltas at publish (issue #15 item 10)", () => {
  let server: TestServer;
  let productId: string;
  let device: EnrolledDevice;
  const v1 = realBinary(3 * MiB);
  const { image: v2, changed } = nextRelease(v1);
  const releases: Record<string, string> = {};

  async function publish(version: string, image: Buffer): Promise<Published> {
    const id = await createRelease(server, productId, version);
    releases[version] = id;
    assert.equal((await uploadArtifact(server, id, "fw.img", image)).status, 201);
    const published = await server.api<Published>("POST", `/api/v1/releases/${id}/publish`);
    assert.equal(published.status, 200, JSON.stringify(published.body));
    return published.body;
  }

  const updater = () => deviceTufClient(server, device, productId);

  before(async () => {
    // A 4 MiB cap: the 3 MiB images get zstd-dict deltas, the 5 MiB one below a segmented delta
    // (cap 6 MiB), the 7 MiB one none.
    server = await startTestServer({
      args: ["--delta-max-image-bytes", String(4 * MiB), "--delta-max-segmented-bytes", String(6 * MiB)],
    });
    productId = (await server.api<{ id: string }>("POST", "/api/v1/products", { name: "Delta D1" })).body.id;
    device = await productDevice(server, productId);
  });
  after(async () => server.close());

  it("publishes no delta for a first release (nothing to diff against)", async () => {
    const published = await publish("1.0.0", v1);
    assert.deepEqual(published.deltas, []);
    assert.deepEqual(published.targets, ["firmware/1.0.0/fw.img"]);
  });

  it("publishes a signed delta from the previous release that rebuilds the new image exactly", async () => {
    const published = await publish("1.1.0", v2);
    assert.equal(published.deltas.length, 1);
    const [delta] = published.deltas;
    const path = deltaTargetPath("firmware/1.1.0/fw.img", sha256(v1));
    assert.equal(delta!.path, path);
    assert.equal(delta!.baseSha256, sha256(v1));
    assert.equal(delta!.fullLength, v2.length);
    // The change brings ~74 KiB of new bytes into a 3 MiB image: the delta is near that, not near 3 MiB.
    assert.ok(delta!.length < changed * 1.5, `delta ${delta!.length} bytes for ${changed} changed`);

    const client = await updater();
    const info = await client.getTargetInfo(path);
    assert.ok(info, "the delta is a target of the component's signed role");
    assert.equal(info.role, "firmware");
    assert.equal(info.target.length, delta!.length);
    assert.ok(info.target.hashes.sha256 && info.target.hashes.sha512);
    const custom = parseDeltaCustom(info.target.custom);
    assert.ok(custom);
    assert.deepEqual(custom.base, { sha256: sha256(v1), length: v1.length, version: "1.0.0" });
    assert.deepEqual(custom.target, { path: "firmware/1.1.0/fw.img", length: v2.length, sha256: sha256(v2) });
    assert.equal(info.target.custom?.version, "1.1.0");
    // Downloaded through the TUF client (length and both hashes checked, TUF spec §5.7.3), then rebuilt.
    const bytes = Buffer.from(await client.downloadTarget(info));
    const rebuilt = zstdDecompressSync(bytes, {
      dictionary: v1,
      params: { [constants.ZSTD_d_windowLogMax]: custom.windowLog },
    });
    assert.ok(rebuilt.equals(v2), "the delta rebuilds the new image from the old one");
    // The full target stays as it was.
    const full = await client.getTargetInfo("firmware/1.1.0/fw.img");
    assert.equal(full?.target.length, v2.length);
  });

  it("serves the delta to the product's devices with HTTP Range, like full targets", async () => {
    const client = await updater();
    const info = (await client.getTargetInfo(deltaTargetPath("firmware/1.1.0/fw.img", sha256(v1))))!;
    const file = `/tuf/${productId}/targets/firmware/1.1.0/${info.target.hashes.sha256}.${info.path.split("/").at(-1)}`;
    const part = await deviceGet(server, device, file, { range: "bytes=10-19" });
    assert.equal(part.status, 206);
    assert.equal(part.body.length, 10);
    const whole = await deviceGet(server, device, file);
    assert.equal(whole.status, 200);
    assert.equal(sha256(whole.body), info.target.hashes.sha256);
    assert.equal((await deviceGet(server, undefined, file)).status, 401, "not without a device certificate");
  });

  it("makes no delta that would not be smaller than the image (nothing shared with the base)", async () => {
    const unrelated = randomBytes(2 * MiB);
    const published = await publish("1.2.0", unrelated);
    assert.deepEqual(published.deltas, []);
    assert.equal(published.deltasSkipped[0]?.reason, "the delta would not be smaller than the full image");
    // Positive control: the next release, a small change of this one, gets its delta again.
    const next = await publish("1.3.0", nextRelease(unrelated).image);
    assert.equal(next.deltas.length, 1);
    assert.equal(next.deltas[0]!.baseSha256, sha256(unrelated));
  });

  it("makes a segmented (zstd-seg) delta for an image over the zstd-dict cap, signed with its layout", async () => {
    // 1.3.0's image (random bytes, above) with 2.9 MiB of a real binary appended: 5 MiB.
    const previous = (await (await updater()).getTargetInfo("firmware/1.3.0/fw.img"))!;
    const old = Buffer.from(await (await updater()).downloadTarget(previous));
    const grown = Buffer.concat([old, realBinary(5 * MiB).subarray(2 * MiB + 100_000)]);
    const published = await publish("1.4.0", grown);
    // Computed after the publish, in the background (delta-jobs.ts), then signed.
    assert.deepEqual(published.deltas, [], JSON.stringify(published.deltasSkipped));
    assert.equal(published.deltasPending?.[0]?.format, "zstd-seg", "5 MiB is over the 4 MiB zstd-dict cap");
    const delta = await waitFor("the segmented delta computed", async () => {
      const { body } = await server.api<{ items: { state: string; delta: { name: string } | null }[] }>(
        "GET",
        `/api/v1/releases/${releases["1.4.0"]}/deltas`,
      );
      return (
        body.items[0]?.state === "ready" && { path: deltaTargetPath("firmware/1.4.0/fw.img", sha256(old)) }
      );
    });
    const info = (await (await updater()).getTargetInfo(delta!.path))!;
    const custom = parseDeltaCustom(info.target.custom)!;
    assert.equal(custom.format, "zstd-seg");
    assert.equal(custom.segmentBytes, 8 * MiB);
    assert.equal(custom.referenceBytes, Math.min(24 * MiB, custom.base.length));
    assert.deepEqual(custom.target, {
      path: "firmware/1.4.0/fw.img",
      length: grown.length,
      sha256: sha256(grown),
    });
    // One segment (8 MiB): magic, header, then a frame with the reference of the base as dictionary.
    const bytes = Buffer.from(await (await updater()).downloadTarget(info));
    assert.ok(bytes.subarray(0, SEGMENTED_MAGIC.length).equals(SEGMENTED_MAGIC));
    const h = decodeSegmentHeader(bytes.subarray(SEGMENTED_MAGIC.length, SEGMENTED_MAGIC.length + 16));
    assert.equal(h.referenceOffset, 0);
    assert.equal(SEGMENTED_MAGIC.length + 16 + h.frameLength, bytes.length, "one segment, nothing after it");
    const rebuilt = zstdDecompressSync(bytes.subarray(SEGMENTED_MAGIC.length + 16), {
      dictionary: old.subarray(h.referenceOffset, h.referenceOffset + h.referenceLength),
    });
    assert.ok(rebuilt.equals(grown), "the delta rebuilds the new image from the old one");
  });

  it("makes no delta for an image over the configured caps", async () => {
    const big = Buffer.concat([v2, realBinary(7 * MiB).subarray(3 * MiB)]);
    const published = await publish("1.5.0", big);
    assert.deepEqual(published.deltas, [], "7 MiB is over the 6 MiB segmented cap");
    assert.deepEqual(published.deltasSkipped, [
      {
        artifact: "fw.img",
        baseVersion: "1.4.0",
        reason: `an image is over the segmented delta cap of ${6 * MiB} bytes (--delta-max-segmented-bytes)`,
      },
    ]);
  });

  it("a deployment that requires deltas is refused for a release without any, accepted with them", async () => {
    const group = "default";
    const refused = await server.api<{ code: string; detail: string }>("POST", "/api/v1/deployments", {
      releaseId: releases["1.5.0"],
      group,
      delta: "require",
    });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.code, "BW_ERR_VALIDATION");
    assert.match(refused.body.detail, /no delta targets/);
    const bad = await server.api<{ code: string }>("POST", "/api/v1/deployments", {
      releaseId: releases["1.1.0"],
      group,
      delta: "sometimes",
    });
    assert.equal(bad.status, 400);
    const accepted = await server.api<{ spec: { delta: string } }>("POST", "/api/v1/deployments", {
      releaseId: releases["1.1.0"],
      group,
      delta: "require",
    });
    assert.equal(accepted.status, 201, JSON.stringify(accepted.body));
    assert.equal(accepted.body.spec.delta, "require");
  });
});

describe("binary deltas on PostgreSQL", () => {
  it("publishes and serves a delta target", async (t) => {
    if (!(await needServices(t, ["postgres"]))) return;
    const schema = freshSchema();
    await schema.create();
    const server = await startTestServer({ args: ["--store", "postgres", "--database-url", schema.url] });
    try {
      const productId = (await server.api<{ id: string }>("POST", "/api/v1/products", { name: "Delta P1" }))
        .body.id;
      const device = await productDevice(server, productId);
      const v1 = realBinary(MiB);
      let published: Published | undefined;
      for (const [version, image] of [
        ["1.0.0", v1],
        ["1.1.0", nextRelease(v1).image],
      ] as const) {
        const id = await createRelease(server, productId, version);
        assert.equal((await uploadArtifact(server, id, "fw.img", image)).status, 201);
        published = (await server.api<Published>("POST", `/api/v1/releases/${id}/publish`)).body;
      }
      assert.equal(published!.deltas.length, 1);
      const [d] = published!.deltas as (Published["deltas"][number] & { sha256: string })[];
      const file = `/tuf/${productId}/targets/firmware/1.1.0/${d!.sha256}.${d!.path.split("/").at(-1)}`;
      const got = await deviceGet(server, device, file);
      assert.equal(got.status, 200);
      assert.equal(sha256(got.body), d!.sha256);
    } finally {
      await server.close();
      await schema.drop();
    }
  });
});
