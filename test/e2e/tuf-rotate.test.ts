import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Updater } from "tuf-js";
import { openAgentStore } from "../../packages/agent/src/device-store.ts";
import { UpdateAgent } from "../../packages/agent/src/updates/update-agent.ts";
import { tufRecord } from "../../packages/agent/src/updates/update-records.ts";
import {
  type Envelope,
  generateKeyPair,
  httpFetcher,
  memoryStore,
  type Root,
  type SigningRequest,
  signMetadata,
  signSigningRequest,
  type Timestamp,
  type TufSigner,
  TufUpdater,
} from "../../packages/sdk/src/tuf/index.ts";
import type { JobStatusReport } from "../../packages/sdk/src/wire/jobs.ts";
import { FileKeyCustody } from "../../packages/server/src/custody/file-key-custody.ts";
import { loadMasterKey } from "../../packages/server/src/custody/master-key.ts";
import { custodySigner } from "../../packages/server/src/updates/tuf-keys.ts";
import type { EnrolledDevice } from "../enrol-helpers.ts";
import { CLI, runCli, startTestServer, type TestServer, tempDir, waitFor } from "../helpers.ts";
import { MutualTlsFetcher } from "../tufjs-mtls-fetcher.ts";
import { createRelease, deviceGet, productDevice, updateNote, uploadArtifact } from "../update-helpers.ts";

type State = {
  status: "published" | "pending";
  version: number;
  request?: SigningRequest;
  rotated: string[];
};
type RoleKeys = Record<"root" | "targets" | "snapshot" | "timestamp", string[]>;

/**
 * Issue #15: rotating the online keys (targets, snapshot, timestamp) and the root key through a
 * new root version (TUF spec §6.1), with the root keys held by the server and offline. Devices
 * bootstrapped with root v1 — the Bulwark agent and stock tuf-js — follow each rotation (§5.3);
 * what the retired keys sign, and a new root missing either threshold (§5.3.4), is refused.
 */
describe("TUF key rotation from the CLI, followed by the agent and tuf-js", () => {
  let server: TestServer;
  let env: Record<string, string>;
  let productId: string;
  let device: EnrolledDevice;
  let custody: FileKeyCustody;
  const agentState = tempDir("bulwark-rotate-agent-");
  const dirs: string[] = [agentState];
  const silent = { debug() {}, info() {}, warn() {}, error() {} };
  const base = () => `${server.httpUrl}/tuf/${productId}`;

  async function publish(version: string) {
    const id = await createRelease(server, productId, version);
    await uploadArtifact(server, id, "fw.img", Buffer.from(`firmware ${version}\n`.repeat(64)));
    assert.equal((await server.api("POST", `/api/v1/releases/${id}/publish`)).status, 200);
  }

  const roleKeys = async () =>
    JSON.parse(
      (await server.store.get<{ role_keys: string }>(
        `SELECT role_keys FROM tuf_repositories WHERE product_id = ?`,
        [productId],
      ))!.role_keys,
    ) as RoleKeys;

  const file = async (name: string) =>
    Buffer.from(
      (await server.store.get<{ body: Uint8Array }>(
        `SELECT body FROM tuf_files WHERE product_id = ? AND name = ?`,
        [productId, name],
      ))!.body,
    );
  const replace = (name: string, body: Buffer) =>
    server.store.run(`UPDATE tuf_files SET body = ? WHERE product_id = ? AND name = ?`, [
      body,
      productId,
      name,
    ]);

  /** Bulwark's own client, bootstrapped with root v1 like a fresh device (hybrid policy). */
  async function bulwarkClient() {
    return new TufUpdater({
      fetcher: httpFetcher({
        metadataBaseUrl: `${base()}/`,
        targetBaseUrl: `${base()}/targets/`,
        ca: server.rootPem,
        cert: device.certChainPem,
        key: device.keyPem,
      }),
      store: memoryStore(),
      bootstrapRoot: (await deviceGet(server, device, `/tuf/${productId}/1.root.json`)).body,
      policy: "hybrid",
    });
  }

  /** Stock tuf-js bootstrapped with root v1 (ECDSA only: it skips the ML-DSA keys). */
  async function tufJs(): Promise<Updater> {
    const dir = mkdtempSync(join(tmpdir(), "bulwark-rotate-tufjs-"));
    dirs.push(dir);
    writeFileSync(
      join(dir, "root.json"),
      (await deviceGet(server, device, `/tuf/${productId}/1.root.json`)).body,
    );
    return new Updater({
      metadataDir: dir,
      metadataBaseUrl: base(),
      targetDir: dir,
      targetBaseUrl: `${base()}/targets`,
      fetcher: new MutualTlsFetcher(server.rootPem, device),
      config: { fetchRetry: 0 },
    });
  }

  /** The real agent, its state kept across calls (trusted root, installed versions), runs one job. */
  async function agentInstalls(version: string): Promise<JobStatusReport> {
    const reports: JobStatusReport[] = [];
    const agent = new UpdateAgent({
      stateDir: agentState,
      store: openAgentStore(agentState, { tpm: null }),
      serverUrl: server.httpUrl,
      tls: () => ({ ca: server.rootPem, cert: device.certChainPem, key: device.keyPem }),
      report: (_jobId, report) => reports.push(report),
      log: silent,
    });
    await agent.start();
    agent.onNotify(updateNote(productId, `firmware/${version}/fw.img`, version));
    try {
      return await waitFor("job end", async () =>
        reports.find((r) => ["succeeded", "failed", "rejected", "rolled_back"].includes(r.state)),
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}; reports: ${JSON.stringify(reports)}`);
    } finally {
      await agent.stop();
    }
  }

  const agentRootVersion = () =>
    (
      JSON.parse(
        openAgentStore(agentState, { tpm: null })
          .get("state", tufRecord(productId, "root.json"))!
          .toString("utf8"),
      ) as {
        signed: { version: number };
      }
    ).signed.version;

  const keyFile = (id: string) => join(server.dir, "data", "keys", `${id}.key.json`);

  before(async () => {
    server = await startTestServer();
    env = {
      BULWARK_URL: server.httpUrl,
      BULWARK_API_KEY: server.adminKey,
      BULWARK_CA_FILE: server.rootPemPath,
    };
    productId = (await server.api<{ id: string }>("POST", "/api/v1/products", { name: "Rotated R1" })).body
      .id;
    device = await productDevice(server, productId);
    writeFileSync(join(agentState, "updates.json"), JSON.stringify({ hardwareRevision: "rev-a" }));
    await publish("1.0.0");
    const dataDir = join(server.dir, "data");
    custody = new FileKeyCustody({
      dir: join(dataDir, "keys"),
      masterKey: loadMasterKey(dataDir, undefined).key,
    });
  });
  after(async () => {
    await server.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  let retiredTimestamp: TufSigner[] = [];
  let offlineHolders: ReturnType<typeof generateKeyPair>[] = [];

  it("tuf rotate --role all: root v2 lists new online keys, signed at once; the agent and tuf-js follow", async () => {
    const first = await agentInstalls("1.0.0");
    assert.equal(first.state, "succeeded", first.reason ?? "");
    assert.equal(agentRootVersion(), 1);
    const before = await roleKeys();
    // The test holds the old timestamp key in memory (as a thief would) before it is retired.
    retiredTimestamp = await Promise.all(before.timestamp.map((id) => custodySigner(custody, id)));

    const rotated = await runCli(CLI, ["tuf", "rotate", productId, "--role", "all"], env);
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.equal(
      rotated.stdout.trim(),
      "rotated targets, snapshot, timestamp: root v2 published, metadata re-signed with the new keys",
    );

    const after = await roleKeys();
    for (const role of ["targets", "snapshot", "timestamp"] as const) {
      assert.equal(after[role].length, 2, `${role}: one ECDSA and one ML-DSA key`);
      assert.ok(
        after[role].every((id) => !before[role].includes(id)),
        `${role} has new keys`,
      );
      for (const id of before[role])
        assert.equal(existsSync(keyFile(id)), false, `retired ${role} key destroyed`);
      for (const id of after[role]) assert.ok(existsSync(keyFile(id)), `new ${role} key in custody`);
    }
    assert.deepEqual(after.root, before.root, "the root keys stay");
    const audited = await server.store.all<{ action: string; details: string }>(
      `SELECT action, details FROM audit_log WHERE target_id = ? AND action LIKE 'tuf.%' ORDER BY seq`,
      [productId],
    );
    assert.deepEqual(
      audited.map((a) => a.action),
      ["tuf.repository.create", "tuf.keys.rotate", "tuf.root.rotate"],
    );
    assert.deepEqual(JSON.parse(audited[2]!.details).rotated, ["targets", "snapshot", "timestamp"]);
    const root2 = JSON.parse((await file("2.root.json")).toString()) as Envelope<Root>;
    const root1 = JSON.parse((await file("1.root.json")).toString()) as Envelope<Root>;
    for (const role of ["targets", "snapshot", "timestamp"] as const)
      assert.ok(root2.signed.roles[role].keyids.every((id) => !root1.signed.roles[role].keyids.includes(id)));
    const timestamp = JSON.parse((await file("timestamp.json")).toString()) as Envelope<Timestamp>;
    assert.deepEqual(
      timestamp.signatures.map((s) => s.keyid).sort(),
      [...root2.signed.roles.timestamp.keyids].sort(),
      "the timestamp is signed by the new keys",
    );

    // The agent (trusting root v1) walks to v2 and installs a release signed after the rotation.
    await publish("1.1.0");
    const second = await agentInstalls("1.1.0");
    assert.equal(second.state, "succeeded", second.reason ?? "");
    assert.equal(agentRootVersion(), 2);
    const stock = await tufJs();
    await stock.refresh();
    assert.ok(await stock.getTargetInfo("firmware/1.1.0/fw.img"), "tuf-js follows root v1 → v2");
  });

  it("a newer timestamp signed by the retired key is refused; the genuine one is accepted", async () => {
    assert.ok(retiredTimestamp.length === 2, "the previous test kept the retired signers");
    const genuine = await file("timestamp.json");
    const current = JSON.parse(genuine.toString()) as Envelope<Timestamp>;
    const forged = await signMetadata(
      { ...current.signed, version: current.signed.version + 10 },
      retiredTimestamp,
    );
    await replace("timestamp.json", Buffer.from(JSON.stringify(forged)));
    try {
      await assert.rejects((await bulwarkClient()).refresh(), { code: "TUF_THRESHOLD_NOT_MET" });
      await assert.rejects((await tufJs()).refresh(), /timestamp/i);
      const agent = await agentInstalls("1.1.0");
      assert.equal(agent.state, "failed");
      assert.match(agent.reason!, /update metadata refused: .*timestamp/);
    } finally {
      await replace("timestamp.json", genuine);
    }
    const client = await bulwarkClient();
    await client.refresh();
    assert.ok(await client.getTargetInfo("firmware/1.1.0/fw.img"), "positive control");
  });

  it("tuf rotate --role root (keys held): root v3 needs old and new root signatures, else clients refuse it", async () => {
    const before = await roleKeys();
    const res = await server.api<State>("POST", `/api/v1/products/${productId}/tuf/rotate`, { role: "root" });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, { status: "published", version: 3, rotated: ["root"] });
    const after = await roleKeys();
    assert.ok(
      after.root.every((id) => !before.root.includes(id)),
      "new root keys in custody",
    );
    for (const id of before.root)
      assert.equal(existsSync(keyFile(id)), false, "the old root key is destroyed");
    const root2 = JSON.parse((await file("2.root.json")).toString()) as Envelope<Root>;
    const genuine = await file("3.root.json");
    const root3 = JSON.parse(genuine.toString()) as Envelope<Root>;
    const oldIds = new Set(root2.signed.roles.root.keyids);
    const newIds = new Set(root3.signed.roles.root.keyids);
    assert.equal([...newIds].filter((id) => oldIds.has(id)).length, 0, "every root key changed");
    assert.equal(root3.signatures.length, 4, "two old and two new (ECDSA + ML-DSA each)");
    // §5.3.4: both thresholds. Served with only one root's signatures, v3 must be refused.
    for (const [which, keep] of [
      ["only the old root's", oldIds],
      ["only the new root's", newIds],
    ] as const) {
      const forged = { ...root3, signatures: root3.signatures.filter((s) => keep.has(s.keyid)) };
      assert.equal(forged.signatures.length, 2);
      await replace("3.root.json", Buffer.from(JSON.stringify(forged)));
      try {
        await assert.rejects((await bulwarkClient()).refresh(), { code: "TUF_THRESHOLD_NOT_MET" }, which);
        await assert.rejects((await tufJs()).refresh(), /root was signed by 0\/1 keys/, which);
      } finally {
        await replace("3.root.json", genuine);
      }
    }
    const client = await bulwarkClient();
    await client.refresh();
    assert.ok(await client.getTargetInfo("firmware/1.1.0/fw.img"), "positive control: v3 as signed");
    const stock = await tufJs();
    await stock.refresh();
    assert.ok(await stock.getTargetInfo("firmware/1.1.0/fw.img"));
  });

  it("with the root offline, tuf rotate --role timestamp stays pending until the holders sign, then re-signs", async () => {
    const holders = [generateKeyPair("ecdsa"), generateKeyPair("ml-dsa")];
    offlineHolders = holders;
    const offline = await server.api<State>("POST", `/api/v1/products/${productId}/tuf/root/sign-request`, {
      rootKeys: holders.map((h) => h.key.keyval.public),
      threshold: 1,
    });
    assert.equal(offline.body.status, "pending");
    for (const holder of holders)
      await server.api("POST", `/api/v1/products/${productId}/tuf/root/signatures`, {
        ...signSigningRequest(offline.body.request!, holder.privateKey),
      });
    const moved = await roleKeys();
    assert.deepEqual(moved.root, [], "the server holds no root key now");
    const rootRefused = await runCli(CLI, ["tuf", "rotate", productId, "--role", "root"], env);
    assert.equal(rootRefused.code, 1);
    assert.match(rootRefused.stderr, /root keys are offline: .*sign-request --key .*\(BW_ERR_CONFLICT\)$/m);
    assert.equal(rootRefused.stderr.trim().split("\n").length, 1, "one readable line");

    const request = join(agentState, "rotate-request.json");
    const asked = await runCli(
      CLI,
      ["tuf", "rotate", productId, "--role", "timestamp", "--out", request],
      env,
    );
    assert.equal(asked.code, 0, asked.stderr);
    assert.equal(
      asked.stdout.trim(),
      "rotated timestamp: root v5 pending: 2 signature(s) still asked; the new keys sign once it is complete",
    );
    const pending = await roleKeys();
    assert.deepEqual(pending.timestamp, moved.timestamp, "the old timestamp key signs until v5 is complete");
    const shown = JSON.parse((await runCli(CLI, ["tuf", "status", productId], env)).stdout) as {
      rootSigningPending: boolean;
      rotationPending: string[];
    };
    assert.equal(shown.rootSigningPending, true);
    assert.deepEqual(shown.rotationPending, ["timestamp"]);
    const again = await runCli(CLI, ["tuf", "rotate", productId, "--role", "snapshot"], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /BW_ERR_CONFLICT/);

    const signed = JSON.parse(readFileSync(request, "utf8")) as SigningRequest;
    let state: State | undefined;
    for (const holder of holders)
      state = (
        await server.api<State>(
          "POST",
          `/api/v1/products/${productId}/tuf/root/signatures`,
          signSigningRequest(signed, holder.privateKey),
        )
      ).body;
    assert.equal(state?.status, "published");
    assert.equal(state?.version, 5);
    const done = await roleKeys();
    assert.ok(
      done.timestamp.every((id) => !moved.timestamp.includes(id)),
      "the new timestamp keys signed",
    );
    for (const id of moved.timestamp)
      assert.equal(existsSync(keyFile(id)), false, "the old one is destroyed");
    const root5 = JSON.parse((await file("5.root.json")).toString()) as Envelope<Root>;
    const timestamp = JSON.parse((await file("timestamp.json")).toString()) as Envelope<Timestamp>;
    assert.deepEqual(
      timestamp.signatures.map((s) => s.keyid).sort(),
      [...root5.signed.roles.timestamp.keyids].sort(),
    );
    await publish("1.2.0");
    const agent = await agentInstalls("1.2.0");
    assert.equal(agent.state, "succeeded", agent.reason ?? "");
    assert.equal(agentRootVersion(), 5);
    const stock = await tufJs();
    await stock.refresh();
    assert.ok(await stock.getTargetInfo("firmware/1.2.0/fw.img"), "tuf-js follows v1 → v5");
  });

  it("a new root sign-request replaces a waiting rotation: its keys are destroyed, the old ones stay", async () => {
    assert.equal(offlineHolders.length, 2, "the previous test moved the root offline");
    const before = await roleKeys();
    const waiting = await server.api<State>("POST", `/api/v1/products/${productId}/tuf/rotate`, {
      role: "targets",
    });
    assert.equal(waiting.body.status, "pending");
    const made = JSON.parse(
      (await server.store.get<{ pending_rotation: string }>(
        `SELECT pending_rotation FROM tuf_repositories WHERE product_id = ?`,
        [productId],
      ))!.pending_rotation,
    ) as { version: number; roleKeys: { targets: string[] } };
    assert.equal(made.version, 6);
    for (const id of made.roleKeys.targets) assert.ok(existsSync(keyFile(id)), "the waiting keys exist");
    const plain = await server.api<State>("POST", `/api/v1/products/${productId}/tuf/root/sign-request`, {});
    assert.equal(plain.body.status, "pending");
    for (const id of made.roleKeys.targets)
      assert.equal(existsSync(keyFile(id)), false, "replaced: destroyed");
    for (const holder of offlineHolders)
      await server.api("POST", `/api/v1/products/${productId}/tuf/root/signatures`, {
        ...signSigningRequest(plain.body.request!, holder.privateKey),
      });
    const after = await roleKeys();
    assert.deepEqual(after.targets, before.targets, "root v6 kept the targets keys");
    const root6 = JSON.parse((await file("6.root.json")).toString()) as Envelope<Root>;
    const root5 = JSON.parse((await file("5.root.json")).toString()) as Envelope<Root>;
    assert.deepEqual(root6.signed.roles.targets, root5.signed.roles.targets);
    const client = await bulwarkClient();
    await client.refresh();
    assert.ok(await client.getTargetInfo("firmware/1.2.0/fw.img"), "v6 is followed");
  });

  it("refuses an unknown role: a usage line from the CLI, a problem document from the API", async () => {
    const usage = await runCli(CLI, ["tuf", "rotate", productId, "--role", "everything"], env);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /tuf rotate needs PRODUCT_ID --role/);
    const api = await server.api<{ code: string }>("POST", `/api/v1/products/${productId}/tuf/rotate`, {
      role: "everything",
    });
    assert.equal(api.status, 400);
    assert.equal(api.body.code, "BW_ERR_VALIDATION");
  });
});
