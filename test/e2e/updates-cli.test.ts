import assert from "node:assert/strict";
import { createHash, createPrivateKey, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { renderStatus } from "../../packages/cli/src/deploy-commands.ts";
import { progressBar } from "../../packages/cli/src/update-commands.ts";
import { signSigningRequest } from "../../packages/sdk/src/tuf/index.ts";
import { deviceTopics } from "../../packages/sdk/src/wire/topics.ts";
import { CLI, runCli, startTestServer, type TestServer } from "../helpers.ts";
import { connectDevice } from "../mqtt-helpers.ts";
import { productDevice, productWithRelease, publishedRelease } from "../update-helpers.ts";

describe("bulwark CLI: artifacts and release update fields (issue #15)", () => {
  let server: TestServer;
  let env: Record<string, string>;
  const dir = mkdtempSync(join(tmpdir(), "bulwark-update-cli-"));

  before(async () => {
    server = await startTestServer();
    env = {
      BULWARK_URL: server.httpUrl,
      BULWARK_API_KEY: server.adminKey,
      BULWARK_CA_FILE: server.rootPemPath,
    };
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("artifact upload streams a file and prints its id, digest and length", async () => {
    const { releaseId } = await productWithRelease(server, "CLI Router");
    const file = join(dir, "router.img");
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    writeFileSync(file, bytes);
    const res = await runCli(CLI, ["artifact", "upload", releaseId, file, "--name", "router-1.0.img"], env);
    assert.equal(res.code, 0, res.stderr);
    const [id, sha256, length, name] = res.stdout.trim().split(/\s+/);
    assert.match(id!, /^[0-9a-f-]{36}$/);
    assert.equal(sha256, createHash("sha256").update(bytes).digest("hex"));
    assert.equal(Number(length), bytes.length);
    assert.equal(name, "router-1.0.img");
    const listed = await runCli(CLI, ["artifact", "list", releaseId], env);
    assert.match(listed.stdout, /router-1\.0\.img/);
    const refused = await runCli(CLI, ["artifact", "upload", releaseId, file, "--name", "../x"], env);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /BW_ERR_VALIDATION/);
    assert.equal(refused.stderr.trim().split("\n").length, 1, "one readable line");
  });

  it("release update records an advisory from a file and hardware revisions", async () => {
    const { releaseId } = await productWithRelease(server, "CLI Camera", "2.0.0", "security");
    const advisory = join(dir, "advisory.json");
    writeFileSync(
      advisory,
      JSON.stringify({
        summary: "Fixes CVE-2026-1111",
        severity: "critical",
        cves: ["CVE-2026-1111"],
        action: "none",
      }),
    );
    const res = await runCli(
      CLI,
      ["release", "update", releaseId, "--advisory-file", advisory, "--hardware", "rev-a"],
      env,
    );
    assert.equal(res.code, 0, res.stderr);
    const body = JSON.parse(res.stdout) as { advisory: { severity: string }; hardware: string[] };
    assert.equal(body.advisory.severity, "critical");
    assert.deepEqual(body.hardware, ["rev-a"]);
    const usage = await runCli(CLI, ["release", "update", "not-an-id"], env);
    assert.equal(usage.code, 2);
  });

  // Split in two (the CLI starts a process per command): publish and the signing request, then the signatures.
  const offline = { productId: "", request: "", holders: [] as string[] };

  it("release publish, then tuf keygen (offline) and tuf root sign-request for a 2-of-2 hybrid root", async () => {
    const { productId, releaseId } = await productWithRelease(server, "CLI Sensor", "3.1.0");
    const file = join(dir, "sensor.img");
    writeFileSync(file, randomBytes(4096));
    assert.equal((await runCli(CLI, ["artifact", "upload", releaseId, file], env)).code, 0);
    const published = await runCli(CLI, ["release", "publish", releaseId], env);
    assert.equal(published.code, 0, published.stderr);
    assert.match(published.stdout, /^published firmware\/3\.1\.0\/sensor\.img \(snapshot v\d+\)$/m);
    const holders = [join(dir, "holder-a"), join(dir, "holder-b")];
    for (const holder of holders) {
      const generated = await runCli(CLI, ["tuf", "keygen", "--out-dir", holder], {});
      assert.equal(generated.code, 0, generated.stderr);
    }
    const keys = holders.flatMap((h) => [
      "--key",
      join(h, "ecdsa.pub.pem"),
      "--key",
      join(h, "ml-dsa.pub.pem"),
    ]);
    const request = join(dir, "root-request.json");
    const asked = await runCli(
      CLI,
      ["tuf", "root", "sign-request", productId, ...keys, "--threshold", "2", "--out", request],
      env,
    );
    assert.equal(asked.code, 0, asked.stderr);
    assert.match(asked.stdout, /^root v2 pending: 4 signature\(s\) still asked$/m);
    Object.assign(offline, { productId, request, holders });
  });

  it("tuf root sign (offline) and import-signature publish root v2 once both thresholds are met", async () => {
    const { productId, request, holders } = offline;
    assert.ok(productId, "the previous test made the request");
    const privates = holders.flatMap((h) => [join(h, "ecdsa.pem"), join(h, "ml-dsa.pem")]);
    // The CLI signs and imports the first and the last signature; the SDK signs the two between.
    for (const [i, key] of privates.entries()) {
      const sig = join(dir, `sig-${i}.json`);
      if (i === 0 || i === privates.length - 1) {
        const signed = await runCli(CLI, ["tuf", "root", "sign", request, "--key", key, "--out", sig], {});
        assert.equal(signed.code, 0, signed.stderr);
        const imported = await runCli(CLI, ["tuf", "root", "import-signature", productId, sig], env);
        assert.equal(imported.code, 0, imported.stderr);
        assert.equal(
          imported.stdout.trim(),
          i === 0 ? "root v2 pending: 3 signature(s) still asked" : "root v2 published",
        );
      } else {
        const signature = signSigningRequest(
          JSON.parse(readFileSync(request, "utf8")),
          createPrivateKey(readFileSync(key, "utf8")),
        );
        const res = await server.api("POST", `/api/v1/products/${productId}/tuf/root/signatures`, signature);
        assert.equal(res.status, 200);
      }
    }
    const status = JSON.parse((await runCli(CLI, ["tuf", "status", productId], env)).stdout) as {
      rootVersion: number;
      roles: { root: { threshold: number } };
    };
    assert.equal(status.rootVersion, 2);
    assert.equal(status.roles.root.threshold, 2);
    const again = await runCli(
      CLI,
      ["tuf", "root", "import-signature", productId, join(dir, "sig-0.json")],
      env,
    );
    assert.equal(again.code, 1);
    assert.match(again.stderr, /BW_ERR_CONFLICT/);
  });

  it("deploy to a device list, then deploy status --watch draws progress until the device reports success", async () => {
    const product = await server.api<{ id: string }>("POST", "/api/v1/products", { name: "CLI Lock" });
    const device = await productDevice(server, product.body.id);
    const releaseId = await publishedRelease(server, product.body.id, "1.0.0");
    const client = await connectDevice(server, device);
    const topics = deviceTopics(device.deviceId);
    client.on("message", (_topic, payload) => {
      const note = JSON.parse(payload.toString()) as { jobId: string; state: string };
      if (note.state !== "notified") return;
      void (async () => {
        for (const state of ["downloading", "verifying", "installing", "succeeded"])
          await client.publishAsync(topics.jobStatus(note.jobId), JSON.stringify({ state }), { qos: 1 });
      })();
    });
    await client.subscribeAsync(topics.jobsNotify, { qos: 1 });
    try {
      const created = await runCli(
        CLI,
        ["deploy", releaseId, "--devices", device.deviceId, "--strategy", "all-at-once"],
        env,
      );
      assert.equal(created.code, 0, created.stderr);
      const id = created.stdout.trim();
      const watched = await runCli(CLI, ["deploy", "status", id, "--watch", "--interval", "0.2"], env);
      assert.equal(watched.code, 0, watched.stderr);
      assert.match(watched.stdout, /completed/);
      assert.match(watched.stdout, /\[#{40}\] 1\/1 succeeded, 0 failed/);
      const bad = await runCli(
        CLI,
        ["deploy", releaseId, "--group", "default", "--strategy", "waves:60,50"],
        env,
      );
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /BW_ERR_VALIDATION/);
    } finally {
      client.end(true);
    }
  });

  it("product update sets the default delta policy of the product's deployments; bad input exits 2 in one line", async () => {
    const { productId } = await productWithRelease(server, "CLI Delta Default");
    const set = await runCli(CLI, ["product", "update", productId, "--delta", "require"], env);
    assert.equal(set.code, 0, set.stderr);
    const shown = JSON.parse(set.stdout) as { productId: string; delta: string; deltaSource: string };
    assert.deepEqual([shown.productId, shown.delta, shown.deltaSource], [productId, "require", "product"]);
    const read = await server.api<{ delta: string }>("GET", `/api/v1/products/${productId}/update`);
    assert.equal(read.body.delta, "require", "stored");
    for (const [args, pattern] of [
      [["--delta", "sometimes"], /^bulwark product update: --delta is off, prefer or require$/],
      [[], /^bulwark product update: product update needs PRODUCT_ID --delta off\|prefer\|require$/],
      [["--delta", "off", "extra"], /^bulwark product update: product update needs PRODUCT_ID/],
    ] as const) {
      const bad = await runCli(CLI, ["product", "update", productId, ...args], env);
      assert.equal(bad.code, 2, bad.stderr);
      assert.equal(bad.stdout, "");
      assert.equal(bad.stderr.trim().split("\n").length, 1, bad.stderr);
      assert.match(bad.stderr.trim(), pattern);
    }
    const missing = await runCli(
      CLI,
      ["product", "update", "00000000-0000-4000-8000-000000000000", "--delta", "off"],
      env,
    );
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /BW_ERR_NOT_FOUND/);
    assert.equal(
      (await server.api<{ delta: string }>("GET", `/api/v1/products/${productId}/update`)).body.delta,
      "require",
      "unchanged by the refused ones",
    );
  });

  it("deploy status says which devices wait for an agent that applies the release's delta", () => {
    const base = {
      id: "d",
      status: "running",
      statusReason: null,
      wave: 0,
      eligible: 1,
      incompatible: 0,
      jobs: {},
    };
    const required = renderStatus({
      ...base,
      deltaUnsupported: 2,
      deltaFormats: ["zstd-seg"],
      spec: { delta: "require" },
    });
    assert.match(required, /, 2 left out: their agent cannot apply zstd-seg deltas \(delta require\)$/m);
    const preferred = renderStatus({
      ...base,
      deltaUnsupported: 1,
      deltaFormats: ["zstd-seg"],
      spec: { delta: "prefer" },
    });
    assert.match(preferred, /, 1 on the full image: their agent cannot apply zstd-seg deltas$/m);
    assert.doesNotMatch(renderStatus({ ...base, deltaUnsupported: 0 }), /agent/);
  });

  it("draws a progress bar", () => {
    assert.equal(progressBar(0, 100, 10), "[----------]   0%  0.0/0.0 MiB");
    assert.equal(progressBar(1024 * 1024, 2 * 1024 * 1024, 10), "[#####-----]  50%  1.0/2.0 MiB");
    assert.equal(progressBar(5, 5, 4), "[####] 100%  0.0/0.0 MiB");
  });
});
