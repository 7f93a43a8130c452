import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { zstdDecompressSync } from "node:zlib";
import {
  decodeSegmentHeader,
  deltaTargetPath,
  parseDeltaCustom,
  SEGMENT_HEADER_BYTES,
  SEGMENTED_MAGIC,
} from "@bulwark/sdk/wire/delta";
import { deviceTopics } from "@bulwark/sdk/wire/topics";
import { nextRelease, realBinary } from "../../../../test/delta-images.ts";
import type { EnrolledDevice } from "../../../../test/enrol-helpers.ts";
import { CLI, runCli, startTestServer, type TestServer, tempDir, waitFor } from "../../../../test/helpers.ts";
import { connectDevice } from "../../../../test/mqtt-helpers.ts";
import {
  createRelease,
  deviceGet,
  deviceTufClient,
  productDevice,
  uploadArtifact,
} from "../../../../test/update-helpers.ts";
import { SqliteStore } from "../store/sqlite.ts";
import { deltaJobsOf } from "./delta-job-queries.ts";

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const MiB = 1024 * 1024;

interface Published {
  deltas: unknown[];
  deltasPending: { artifact: string; baseVersion: string; format: string; segments: number; jobId: string }[];
  snapshotVersion: number;
}
interface DeltaItem {
  artifact: string;
  baseVersion: string;
  format: string;
  state: string;
  reason: string | null;
  progress: { done: number; total: number } | null;
  attempts: number | null;
  background: boolean;
  delta: { name: string; length: number; sha256: string } | null;
}
interface Summary {
  waitingFor: string | null;
  jobs: Record<string, number>;
}

/**
 * Issue #15 item 10: a segmented delta is computed after publish, in the background. The publish
 * answers at once with the delta pending; its state is visible while it is computed; a `require`
 * deployment admits no device (with the reason) until the delta is signed; then the delta is a
 * target of a new targets version that rebuilds the new image. (A server killed mid-computation:
 * `test/e2e/updates-delta-jobs.test.ts`.)
 */
describe("a server stopped while it computes a delta", () => {
  it("hands the job back (not counted as an attempt) and computes it after its next start", async () => {
    const dir = tempDir("bulwark-delta-stop-");
    const args = ["--delta-max-image-bytes", String(MiB)];
    let server = await startTestServer({ dir, args });
    try {
      const productId = (await server.api<{ id: string }>("POST", "/api/v1/products", { name: "Delta ST1" }))
        .body.id;
      const v1 = realBinary(40 * MiB - 128 * 1024);
      let releaseId = "";
      for (const [version, image] of [
        ["1.0.0", v1],
        ["1.1.0", nextRelease(v1).image],
      ] as const) {
        releaseId = await createRelease(server, productId, version);
        assert.equal((await uploadArtifact(server, releaseId, "fw.img", image)).status, 201);
        assert.equal((await server.api("POST", `/api/v1/releases/${releaseId}/publish`)).status, 200);
      }
      const items = async () =>
        (await server.api<{ items: DeltaItem[] }>("GET", `/api/v1/releases/${releaseId}/deltas`)).body.items;
      await waitFor(
        "the delta being computed",
        async () => {
          const [item] = await items();
          assert.notEqual(item?.state, "ready", "computed before the stop");
          return item?.state === "computing" && (item.progress?.done ?? 0) >= 1;
        },
        120_000,
      );
      await server.close();
      const store = new SqliteStore(join(dir, "data", "bulwark.db"));
      try {
        const [job] = await deltaJobsOf(store, releaseId);
        assert.deepEqual(
          [job?.state, job?.owner, job?.attempts, job?.progress.done],
          ["pending", null, 0, 0],
        );
      } finally {
        await store.close();
      }
      server = await startTestServer({ dir, args });
      const ready = await waitFor(
        "the delta computed after the next start",
        async () => {
          const [item] = await items();
          return item?.state === "ready" && item;
        },
        180_000,
      );
      assert.equal(ready.attempts, 1, "the stop was not counted as an attempt");
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("segmented deltas computed in the background", () => {
  let server: TestServer;
  let productId: string;
  let device: EnrolledDevice;
  let readyRelease = "";
  // Just under 40 MiB of a real binary (its next release: 5 segments of 8 MiB), over the 1 MiB zstd-dict cap set below.
  const v1 = realBinary(40 * MiB - 128 * 1024);
  const v2 = nextRelease(v1).image;

  async function publish(version: string, image: Buffer): Promise<{ id: string; body: Published }> {
    const id = await createRelease(server, productId, version);
    assert.equal((await uploadArtifact(server, id, "fw.img", image)).status, 201);
    const published = await server.api<Published>("POST", `/api/v1/releases/${id}/publish`);
    assert.equal(published.status, 200, JSON.stringify(published.body));
    return { id, body: published.body };
  }
  const cliEnv = () => ({
    BULWARK_URL: server.httpUrl,
    BULWARK_API_KEY: server.adminKey,
    BULWARK_CA_FILE: server.rootPemPath,
  });
  const deltas = async (releaseId: string) =>
    (await server.api<{ items: DeltaItem[] }>("GET", `/api/v1/releases/${releaseId}/deltas`)).body.items;

  const updater = () => deviceTufClient(server, device, productId);

  before(async () => {
    server = await startTestServer({ args: ["--delta-max-image-bytes", String(MiB)] });
    productId = (await server.api<{ id: string }>("POST", "/api/v1/products", { name: "Delta BG1" })).body.id;
    device = await productDevice(server, productId);
    // Its agent says it applies zstd-seg (format negotiation): a require deployment admits it.
    const client = await connectDevice(server, device);
    await client.publishAsync(
      deviceTopics(device.deviceId).meta,
      JSON.stringify({ deltaFormats: ["zstd-dict", "zstd-seg"] }),
      { qos: 1 },
    );
    await waitFor("the delta formats stored", async () => {
      const got = await server.api<{ deltaFormats: string[] | null }>(
        "GET",
        `/api/v1/devices/${device.deviceId}`,
      );
      return got.body.deltaFormats?.includes("zstd-seg");
    });
    await client.endAsync();
  });
  after(async () => server.close());

  it("publishes at once, shows the delta's state, holds a require deployment, then signs the delta", async () => {
    await publish("1.0.0", v1);
    const { id, body } = await publish("1.1.0", v2);
    readyRelease = id;
    assert.deepEqual(body.deltas, [], "no segmented delta is computed inside the publish");
    assert.equal(body.deltasPending.length, 1);
    const [pending] = body.deltasPending;
    assert.deepEqual(
      [pending!.artifact, pending!.baseVersion, pending!.format, pending!.segments],
      ["fw.img", "1.0.0", "zstd-seg", 5],
    );

    // Accepted while the delta is pending: it waits for it.
    const created = await server.api<{ id: string }>("POST", "/api/v1/deployments", {
      releaseId: id,
      group: "default",
      delta: "require",
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const summary = async () =>
      (await server.api<Summary>("GET", `/api/v1/deployments/${created.body.id}`)).body;

    // While the delta is open (before and after reading the summary), the deployment waits, says
    // why, and has made no job.
    const open = (items: DeltaItem[]) => items[0]?.state === "pending" || items[0]?.state === "computing";
    const seen = new Set<string>();
    await waitFor("the waiting deployment seen while its delta is computed", async () => {
      const before = await deltas(id);
      const s = await summary();
      const status = await runCli(CLI, ["deploy", "status", created.body.id], cliEnv());
      const afterwards = await deltas(id);
      for (const item of [...before, ...afterwards]) seen.add(item.state);
      assert.ok(
        open(before),
        `the delta was computed before the deployment was seen: ${JSON.stringify(before)}`,
      );
      if (!open(afterwards)) return false;
      assert.match(
        s.waitingFor ?? "",
        /^delta policy require: waiting for 1 delta still being computed \(fw\.img from 1\.0\.0: (pending|computing)/,
      );
      assert.equal(status.code, 0, status.stderr);
      assert.match(
        status.stdout,
        /\nwaiting: delta policy require: waiting for 1 delta still being computed/,
      );
      assert.equal(
        Object.values(s.jobs).reduce((a, b) => a + b, 0),
        0,
        "no job is made meanwhile",
      );
      return true;
    });

    // Meanwhile another product's publish with a zstd-dict delta (computed inside the publish)
    // does not wait for the whole segmented delta: it takes its turn between two segments.
    const other = (await server.api<{ id: string }>("POST", "/api/v1/products", { name: "Delta BG2" })).body
      .id;
    const small = realBinary(512 * 1024);
    let made: unknown[] = [];
    for (const [version, image] of [
      ["1.0.0", small],
      ["1.1.0", nextRelease(small).image],
    ] as const) {
      const rid = await createRelease(server, other, version);
      assert.equal((await uploadArtifact(server, rid, "fw.img", image)).status, 201);
      made = (await server.api<Published>("POST", `/api/v1/releases/${rid}/publish`)).body.deltas;
    }
    assert.equal(made.length, 1, "the small release got its zstd-dict delta at publish");
    assert.ok(open(await deltas(id)), "...while the segmented delta was still being computed");

    const ready = await waitFor(
      "the delta computed",
      async () => {
        const items = await deltas(id);
        for (const item of items) seen.add(item.state);
        return items[0]?.state === "ready" && items[0];
      },
      180_000,
    );
    assert.equal(ready.background, true);
    assert.equal(ready.attempts, 1);
    assert.deepEqual(ready.progress, { done: 5, total: 5 });
    assert.ok(seen.has("computing") || seen.has("pending"), [...seen].join(","));

    // Positive control: now the deployment admits the device.
    await waitFor("the device admitted", async () => {
      const s = await summary();
      return s.waitingFor === null && Object.values(s.jobs).reduce((a, b) => a + b, 0) === 1;
    });

    // Signed in a later targets version (new snapshot), with the release's custom fields.
    const client = await updater();
    const path = deltaTargetPath("firmware/1.1.0/fw.img", sha256(v1));
    const info = await client.getTargetInfo(path);
    assert.ok(info, "the delta is a target of the component's signed role");
    assert.equal(info.target.length, ready.delta!.length);
    assert.equal(info.target.custom?.version, "1.1.0");
    const custom = parseDeltaCustom(info.target.custom)!;
    assert.equal(custom.format, "zstd-seg");
    assert.deepEqual(custom.target, { path: "firmware/1.1.0/fw.img", length: v2.length, sha256: sha256(v2) });
    const timestamp = JSON.parse(
      (await deviceGet(server, device, `/tuf/${productId}/timestamp.json`)).body.toString("utf8"),
    ) as { signed: { meta: { "snapshot.json": { version: number } } } };
    assert.ok(timestamp.signed.meta["snapshot.json"].version > body.snapshotVersion);

    // It rebuilds the new image, segment by segment, from the old one.
    const bytes = Buffer.from(await client.downloadTarget(info));
    assert.ok(bytes.length < v2.length / 20, `delta ${bytes.length} bytes of ${v2.length}`);
    assert.ok(bytes.subarray(0, SEGMENTED_MAGIC.length).equals(SEGMENTED_MAGIC));
    const parts: Buffer[] = [];
    for (let at = SEGMENTED_MAGIC.length; at < bytes.length; ) {
      const h = decodeSegmentHeader(bytes.subarray(at, at + SEGMENT_HEADER_BYTES));
      at += SEGMENT_HEADER_BYTES;
      const dictionary = v1.subarray(h.referenceOffset, h.referenceOffset + h.referenceLength);
      parts.push(zstdDecompressSync(bytes.subarray(at, at + h.frameLength), { dictionary }));
      at += h.frameLength;
    }
    assert.ok(Buffer.concat(parts).equals(v2), "the delta rebuilds the new image");
  });

  it("a require deployment is refused once no delta is pending and none was made (failed or skipped)", async () => {
    // Random bytes, nothing shared with the base: the delta is computed in the background and
    // skipped (it would not be smaller than the full image).
    const { id } = await publish("1.2.0", randomBytes(4 * MiB));
    const skipped = await waitFor(
      "the delta skipped",
      async () => {
        const [item] = await deltas(id);
        return item?.state === "skipped" && item;
      },
      120_000,
    );
    assert.equal(skipped.reason, "the delta would not be smaller than the full image");
    const audit = await server.api<{ items: { action: string; details: { reason?: string } }[] }>(
      "GET",
      "/api/v1/audit?limit=1000",
    );
    const entries = audit.body.items.filter((e) => e.action.startsWith("release.delta."));
    assert.deepEqual(
      entries.map((e) => [e.action, e.details.reason ?? null]),
      [
        ["release.delta.publish", null],
        ["release.delta.skip", "the delta would not be smaller than the full image"],
      ],
      "the signed delta and the skipped one are audited",
    );
    // The CLI shows each delta's state: this one with its reason, 1.1.0's ready with its size.
    const env = cliEnv();
    const shown = await runCli(CLI, ["release", "deltas", id], env);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(
      shown.stdout,
      /fw\.img\s+1\.1\.0\s+zstd-seg\s+skipped\s+the delta would not be smaller than the full image/,
    );
    const [item] = await deltas(readyRelease);
    const ready = await runCli(CLI, ["release", "deltas", readyRelease], env);
    assert.match(
      ready.stdout,
      new RegExp(`fw\\.img\\s+1\\.0\\.0\\s+zstd-seg\\s+ready\\s+${item!.delta!.length} bytes`),
    );
    const bad = await runCli(CLI, ["release", "deltas", "not-an-id"], env);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr.trim().split("\n").length, 1, "one readable line");
    const refused = await server.api<{ code: string; detail: string }>("POST", "/api/v1/deployments", {
      releaseId: id,
      group: "default",
      delta: "require",
    });
    assert.equal(refused.status, 400);
    assert.match(refused.body.detail, /no delta targets and none being computed/);
  });
});
