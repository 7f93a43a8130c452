import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { deltaTargetPath } from "../../packages/sdk/src/wire/delta.ts";
import { PostgresStore } from "../../packages/server/src/store/postgres.ts";
import { SqliteStore } from "../../packages/server/src/store/sqlite.ts";
import type { Queryable } from "../../packages/server/src/store/store.ts";
import { nextRelease, realBinary } from "../delta-images.ts";
import { type TestServer, tempDir, waitFor } from "../helpers.ts";
import { apiOf, logged, type ServerProcess, startProcess } from "../scale-out-helpers.ts";
import { freshSchema, needServices, REDIS_URL } from "../services.ts";
import { createRelease, uploadArtifact } from "../update-helpers.ts";

const MiB = 1024 * 1024;
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
// Just under 40 MiB of a real binary: its next release is 5 segments of 8 MiB, over the 1 MiB zstd-dict cap the servers get.
const v1 = realBinary(40 * MiB - 128 * 1024);
const v2 = nextRelease(v1).image;
const DELTA_ARGS = ["--delta-max-image-bytes", String(MiB)];
// Info level: the claims are logged ("delta job claimed").
const ENV = { BULWARK_LOG_LEVEL: "info" };

interface DeltaItem {
  state: string;
  reason: string | null;
  attempts: number;
  progress: { done: number; total: number };
  delta: { name: string; length: number; sha256: string } | null;
}

const deltasOf = async (api: TestServer, releaseId: string) =>
  (await api.api<{ items: DeltaItem[] }>("GET", `/api/v1/releases/${releaseId}/deltas`)).body.items;

/** Publishes 1.0.0 (v1) and 1.1.0 (v2); returns 1.1.0's id, its segmented delta pending. */
async function publishTwo(api: TestServer, name: string): Promise<{ productId: string; releaseId: string }> {
  const productId = (await api.api<{ id: string }>("POST", "/api/v1/products", { name })).body.id;
  let releaseId = "";
  for (const [version, image] of [
    ["1.0.0", v1],
    ["1.1.0", v2],
  ] as const) {
    releaseId = await createRelease(api, productId, version);
    assert.equal((await uploadArtifact(api, releaseId, "fw.img", image)).status, 201);
    const published = await api.api<{ deltasPending: unknown[] }>(
      "POST",
      `/api/v1/releases/${releaseId}/publish`,
    );
    assert.equal(published.status, 200, JSON.stringify(published.body));
  }
  return { productId, releaseId };
}

/** Waits until the delta is being computed and at least one segment is done: mid-computation. */
const midway = (api: TestServer, releaseId: string) =>
  waitFor(
    "the delta half computed",
    async () => {
      const [item] = await deltasOf(api, releaseId);
      assert.notEqual(item?.state, "ready", "the delta was computed before the kill");
      return item?.state === "computing" && item.progress.done >= 1 && item;
    },
    120_000,
  );

const killed = (server: ServerProcess) =>
  new Promise<void>((resolve) => {
    server.child.once("exit", () => resolve());
    server.child.kill("SIGKILL");
  });

/**
 * Exactly once in effect, read from the database: one `artifact_deltas` row, one audit entry of
 * the delta's signing, and the delta a target of the component's newest signed role.
 */
async function assertSignedOnce(db: Queryable, productId: string, releaseId: string, expected: DeltaItem) {
  const rows = await db.all<{ sha256: string }>(`SELECT sha256 FROM artifact_deltas WHERE release_id = ?`, [
    releaseId,
  ]);
  assert.deepEqual(
    rows.map((r) => r.sha256),
    [expected.delta!.sha256],
  );
  const audits = await db.all<{ target_id: string }>(
    `SELECT target_id FROM audit_log WHERE action = 'release.delta.publish'`,
  );
  assert.deepEqual(
    audits.map((a) => a.target_id),
    [releaseId],
  );
  const roles = await db.all<{ name: string; body: Uint8Array }>(
    `SELECT name, body FROM tuf_files WHERE product_id = ? AND name LIKE '%.firmware.json'`,
    [productId],
  );
  const newest = roles.sort((a, b) => Number.parseInt(b.name, 10) - Number.parseInt(a.name, 10))[0]!;
  const targets = (
    JSON.parse(Buffer.from(newest.body).toString("utf8")) as {
      signed: { targets: Record<string, { length: number; hashes: { sha256: string } }> };
    }
  ).signed.targets;
  const path = deltaTargetPath("firmware/1.1.0/fw.img", sha256(v1));
  assert.equal(targets[path]?.hashes.sha256, expected.delta!.sha256);
  assert.equal(targets[path]?.length, expected.delta!.length);
}

describe("background delta jobs across a server kill (issue #15 item 10)", () => {
  it("SQLite: a server killed mid-computation computes the delta again after its restart, signed once", async () => {
    const dir = tempDir("bulwark-delta-kill-");
    const keyFile = join(dir, "admin.key");
    const args = [
      ...["--data", join(dir, "data"), "--http-port", "0", "--mqtt-port", "0"],
      ...["--bootstrap-admin-key-file", keyFile, ...DELTA_ARGS],
    ];
    let server = await startProcess(args, ENV);
    try {
      const rootPem = readFileSync(join(dir, "data", "root-ca.pem"), "utf8");
      const adminKey = readFileSync(keyFile, "utf8").trim();
      let api = apiOf(server.httpUrl, rootPem, adminKey);
      const { productId, releaseId } = await publishTwo(api, "Delta Kill K1");
      await midway(api, releaseId);
      await killed(server);

      server = await startProcess(args, ENV);
      api = apiOf(server.httpUrl, rootPem, adminKey);
      const ready = await waitFor(
        "the delta computed after the restart",
        async () => {
          const [item] = await deltasOf(api, releaseId);
          return item?.state === "ready" && item;
        },
        180_000,
      );
      // Claimed once before the kill and once after it, computed whole the second time.
      assert.equal(ready.attempts, 2);
      assert.deepEqual(ready.progress, { done: 5, total: 5 });
      assert.equal(logged(server, "delta job claimed"), 1);
      await new Promise<void>((resolve) => {
        server.child.once("exit", () => resolve());
        server.child.kill("SIGTERM");
      });
      const store = new SqliteStore(join(dir, "data", "bulwark.db"));
      try {
        await assertSignedOnce(store, productId, releaseId, ready);
      } finally {
        await store.close();
      }
    } finally {
      if (server.child.exitCode === null && server.child.signalCode === null) await killed(server);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("PostgreSQL, two processes: one computes; killed, the other takes the job over; signed once", async (t) => {
    if (!(await needServices(t, ["postgres", "redis"]))) return;
    const schema = freshSchema();
    await schema.create();
    const dir = tempDir("bulwark-delta-pg-");
    const keyFile = join(dir, "admin.key");
    const args = [
      ...["--data", join(dir, "data"), "--store", "postgres", "--database-url", schema.url],
      ...["--redis-url", REDIS_URL, "--redis-prefix", `test-${schema.name}:`],
      ...["--http-port", "0", "--mqtt-port", "0", "--bootstrap-admin-key-file", keyFile, ...DELTA_ARGS],
    ];
    // startProcess sets BULWARK_HEARTBEAT_MS=300: a claim's lease is 3 beats (0.9 s).
    const a = await startProcess(args, ENV);
    const b = await startProcess(args, ENV);
    const servers = [a, b];
    try {
      const rootPem = readFileSync(join(dir, "data", "root-ca.pem"), "utf8");
      const adminKey = readFileSync(keyFile, "utf8").trim();
      const apiA = apiOf(a.httpUrl, rootPem, adminKey);
      const apiB = apiOf(b.httpUrl, rootPem, adminKey);
      const { productId, releaseId } = await publishTwo(apiA, "Delta Scale S1");
      await midway(apiA, releaseId);
      // Exactly one process claimed it, although both look for work.
      const claims = servers.map((s) => logged(s, "delta job claimed"));
      assert.deepEqual(claims.toSorted(), [0, 1], `claims per process: ${claims}`);
      const holder = claims[0] === 1 ? a : b;
      const survivor = holder === a ? b : a;
      await killed(holder);

      const api = holder === a ? apiB : apiA;
      const ready = await waitFor(
        "the delta computed by the survivor",
        async () => {
          const [item] = await deltasOf(api, releaseId);
          return item?.state === "ready" && item;
        },
        180_000,
      );
      assert.equal(ready.attempts, 2);
      assert.equal(logged(survivor, "delta job claimed"), 1, "the survivor took it over once");
      const store = await PostgresStore.open({ url: schema.url });
      try {
        await assertSignedOnce(store, productId, releaseId, ready);
      } finally {
        await store.close();
      }
    } finally {
      for (const s of servers) if (s.child.exitCode === null && s.child.signalCode === null) await killed(s);
      await schema.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
