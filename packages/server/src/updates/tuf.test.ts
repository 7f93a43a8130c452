import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  generateKeyPair,
  httpFetcher,
  memoryStore,
  type SigningRequest,
  signSigningRequest,
  TufUpdater,
} from "@bulwark/sdk/tuf";
import { Updater } from "tuf-js";
import type { EnrolledDevice } from "../../../../test/enrol-helpers.ts";
import { startTestServer, type TestServer } from "../../../../test/helpers.ts";
import { MutualTlsFetcher } from "../../../../test/tufjs-mtls-fetcher.ts";
import {
  createRelease,
  deviceGet,
  productDevice,
  productWithRelease,
  uploadArtifact,
} from "../../../../test/update-helpers.ts";
import { FileKeyCustody } from "../custody/file-key-custody.ts";
import { loadMasterKey } from "../custody/master-key.ts";
import { refreshRepository } from "./tuf-refresh.ts";

const IMAGE = Buffer.from("gateway firmware 1.0.0\n".repeat(1000));
type State = { status: "published" | "pending"; version: number; request?: SigningRequest };

describe("TUF repository per product, served over mutual TLS", () => {
  let server: TestServer;
  let productId: string;
  let releaseId: string;
  let device: EnrolledDevice;
  const dirs: string[] = [];
  const base = () => `${server.httpUrl}/tuf/${productId}`;

  before(async () => {
    server = await startTestServer();
    ({ productId, releaseId } = await productWithRelease(server, "Gateway TUF", "1.0.0", "security"));
    device = await productDevice(server, productId);
    assert.equal((await uploadArtifact(server, releaseId, "gateway.img", IMAGE)).status, 201);
  });
  after(async () => {
    await server.close();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  async function tufJs(): Promise<{ updater: Updater; dir: string }> {
    const dir = await mkdtemp(join(tmpdir(), "bulwark-tufjs-mtls-"));
    dirs.push(dir);
    const root = await deviceGet(server, device, `/tuf/${productId}/1.root.json`);
    assert.equal(root.status, 200);
    await writeFile(join(dir, "root.json"), root.body);
    const updater = new Updater({
      metadataDir: dir,
      metadataBaseUrl: base(),
      targetDir: dir,
      targetBaseUrl: `${base()}/targets`,
      fetcher: new MutualTlsFetcher(server.rootPem, device),
      config: { fetchRetry: 0 },
    });
    return { updater, dir };
  }

  it("refuses to publish a security release without an advisory, then publishes it", async () => {
    const refused = await server.api<{ code: string }>("POST", `/api/v1/releases/${releaseId}/publish`);
    assert.equal(refused.status, 409);
    assert.equal(refused.body.code, "BW_ERR_RELEASE_NOT_PUBLISHABLE");
    const fields = await server.api("PUT", `/api/v1/releases/${releaseId}/update`, {
      advisory: { summary: "Fixes CVE-2026-4242", severity: "high", cves: ["CVE-2026-4242"], action: "none" },
      hardware: ["rev-a"],
    });
    assert.equal(fields.status, 200);
    const published = await server.api<{ targets: string[] }>(
      "POST",
      `/api/v1/releases/${releaseId}/publish`,
    );
    assert.equal(published.status, 200, JSON.stringify(published.body));
    assert.deepEqual(published.body.targets, ["firmware/1.0.0/gateway.img"]);
    const again = await server.api<{ code: string }>("POST", `/api/v1/releases/${releaseId}/publish`);
    assert.equal(again.status, 409);
    assert.equal(again.body.code, "BW_ERR_CONFLICT");
  });

  it("stock tuf-js refreshes the metadata and downloads the target over mutual TLS", async () => {
    const { updater, dir } = await tufJs();
    await updater.refresh();
    const info = await updater.getTargetInfo("firmware/1.0.0/gateway.img");
    assert.ok(info, "the target is found through the firmware delegation");
    assert.equal(info.custom.kind, "security");
    assert.equal(info.custom.advisory, "Fixes CVE-2026-4242");
    assert.deepEqual(info.custom.hardware, ["rev-a"]);
    const file = await updater.downloadTarget(info, join(dir, "gateway.img"));
    assert.deepEqual(await readFile(file), IMAGE);
  });

  it("Bulwark's own client verifies every role under the hybrid policy over mutual TLS", async () => {
    const root = await deviceGet(server, device, `/tuf/${productId}/1.root.json`);
    const updater = new TufUpdater({
      fetcher: httpFetcher({
        metadataBaseUrl: `${base()}/`,
        targetBaseUrl: `${base()}/targets/`,
        ca: server.rootPem,
        cert: device.certChainPem,
        key: device.keyPem,
      }),
      store: memoryStore(),
      bootstrapRoot: root.body,
      policy: "hybrid",
    });
    await updater.refresh();
    const info = await updater.getTargetInfo("firmware/1.0.0/gateway.img");
    assert.ok(info);
    assert.equal(info.role, "firmware");
    assert.deepEqual(await updater.downloadTarget(info), IMAGE);
  });

  it("serves metadata only to the product's enrolled devices", async () => {
    const anonymous = await deviceGet(server, undefined, `/tuf/${productId}/timestamp.json`);
    assert.equal(anonymous.status, 401);
    const other = await productWithRelease(server, "Other TUF product");
    const stranger = await productDevice(server, other.productId);
    const refused = await deviceGet(server, stranger, `/tuf/${productId}/timestamp.json`);
    assert.equal(refused.status, 403);
    const own = await deviceGet(server, device, `/tuf/${productId}/timestamp.json`);
    assert.equal(own.status, 200, "positive control");
  });

  it("keeps each component's versions strictly increasing and semantic", async () => {
    const older = await createRelease(server, productId, "0.9.0");
    await uploadArtifact(server, older, "gateway.img", Buffer.from("old"));
    const res = await server.api<{ code: string }>("POST", `/api/v1/releases/${older}/publish`);
    assert.equal(res.status, 409);
    assert.equal(res.body.code, "BW_ERR_VERSION_NOT_INCREASING");
    const odd = await createRelease(server, productId, "build-77");
    await uploadArtifact(server, odd, "gateway.img", Buffer.from("odd"));
    const notSemver = await server.api<{ code: string }>("POST", `/api/v1/releases/${odd}/publish`);
    assert.equal(notSemver.body.code, "BW_ERR_RELEASE_NOT_PUBLISHABLE");
    // Another component has its own version line; a newer firmware is accepted.
    const boot = await createRelease(server, productId, "0.1.0");
    await server.api("PUT", `/api/v1/releases/${boot}/update`, { component: "bootloader" });
    await uploadArtifact(server, boot, "boot.bin", Buffer.from("boot"));
    assert.equal((await server.api("POST", `/api/v1/releases/${boot}/publish`)).status, 200);
    const newer = await createRelease(server, productId, "1.1.0");
    await uploadArtifact(server, newer, "gateway.img", Buffer.from("new"));
    assert.equal((await server.api("POST", `/api/v1/releases/${newer}/publish`)).status, 200);
  });

  it("moves root keys offline: a 2-of-2 hybrid root signed through signing requests, followed by tuf-js", async () => {
    const offline = [
      generateKeyPair("ecdsa"),
      generateKeyPair("ecdsa"),
      generateKeyPair("ml-dsa"),
      generateKeyPair("ml-dsa"),
    ];
    const pems = offline.map((k) => k.key.keyval.public);
    const created = await server.api<State>("POST", `/api/v1/products/${productId}/tuf/root/sign-request`, {
      rootKeys: pems,
      threshold: 2,
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    assert.equal(created.body.status, "pending");
    assert.equal(created.body.version, 2);
    let state = created.body;
    for (const [i, holder] of offline.entries()) {
      const request = (await server.api<State>("GET", `/api/v1/products/${productId}/tuf/root/sign-request`))
        .body.request!;
      const signature = signSigningRequest(request, holder.privateKey);
      const imported = await server.api<State>(
        "POST",
        `/api/v1/products/${productId}/tuf/root/signatures`,
        signature,
      );
      assert.equal(imported.status, 200, JSON.stringify(imported.body));
      state = imported.body;
      assert.equal(
        state.status,
        i < offline.length - 1 ? "pending" : "published",
        `after signature ${i + 1}`,
      );
    }
    const summary = await server.api<{ rootVersion: number; rootKeysHeld: boolean }>(
      "GET",
      `/api/v1/products/${productId}/tuf`,
    );
    assert.equal(summary.body.rootVersion, 2);
    assert.equal(summary.body.rootKeysHeld, false, "the server no longer holds a root key");
    // A device bootstrapped with root v1 follows the rotation (§5.3) with stock tuf-js.
    const { updater } = await tufJs();
    await updater.refresh();
    assert.ok(await updater.getTargetInfo("firmware/1.1.0/gateway.img"));
    // Root v3 now needs the offline holders: one ECDSA signature short of 2-of-2 stays pending.
    const next = await server.api<State>("POST", `/api/v1/products/${productId}/tuf/root/sign-request`, {});
    assert.equal(next.body.status, "pending");
    const first = signSigningRequest(next.body.request!, offline[0]!.privateKey);
    const bad = { ...signSigningRequest(next.body.request!, offline[1]!.privateKey), sig: first.sig };
    const forged = await server.api<{ code: string }>(
      "POST",
      `/api/v1/products/${productId}/tuf/root/signatures`,
      bad,
    );
    assert.equal(forged.status, 409);
    assert.equal(forged.body.code, "BW_ERR_TUF_SIGNING");
  });

  it("re-signs the timestamp before it expires, and republishes targets roles near their expiry", async () => {
    const dataDir = join(server.dir, "data");
    const custody = new FileKeyCustody({
      dir: join(dataDir, "keys"),
      masterKey: loadMasterKey(dataDir, undefined).key,
    });
    const timestamp = async () =>
      JSON.parse((await deviceGet(server, device, `/tuf/${productId}/timestamp.json`)).body.toString()) as {
        signed: { version: number; expires: string };
      };
    const at = (hours: number) => () => new Date(Date.now() + hours * 3600_000);
    const before = await timestamp();
    assert.equal(await refreshRepository({ store: server.store, custody, now: at(0) }, productId), "none");
    assert.equal((await timestamp()).signed.version, before.signed.version, "nothing due, nothing signed");
    assert.equal(
      await refreshRepository({ store: server.store, custody, now: at(20) }, productId),
      "timestamp",
    );
    const refreshed = await timestamp();
    assert.equal(refreshed.signed.version, before.signed.version + 1);
    assert.ok(Date.parse(refreshed.signed.expires) > Date.parse(before.signed.expires));
    assert.equal(
      await refreshRepository({ store: server.store, custody, now: at(85 * 24) }, productId),
      "republished",
    );
    // The republished metadata still verifies for a client (at the moved clock: §5.4.4 and §5.6.5).
    const root = await deviceGet(server, device, `/tuf/${productId}/1.root.json`);
    const updater = new TufUpdater({
      fetcher: httpFetcher({
        metadataBaseUrl: `${base()}/`,
        targetBaseUrl: `${base()}/targets/`,
        ca: server.rootPem,
        cert: device.certChainPem,
        key: device.keyPem,
      }),
      store: memoryStore(),
      bootstrapRoot: root.body,
      now: at(85 * 24 + 12),
    });
    await updater.refresh();
    assert.ok(await updater.getTargetInfo("firmware/1.1.0/gateway.img"));
  });
});
