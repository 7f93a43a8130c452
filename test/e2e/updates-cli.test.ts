import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { progressBar } from "../../packages/cli/src/update-commands.ts";
import { CLI, runCli, startTestServer, type TestServer } from "../helpers.ts";
import { productWithRelease } from "../update-helpers.ts";

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

  it("draws a progress bar", () => {
    assert.equal(progressBar(0, 100, 10), "[----------]   0%  0.0/0.0 MiB");
    assert.equal(progressBar(1024 * 1024, 2 * 1024 * 1024, 10), "[#####-----]  50%  1.0/2.0 MiB");
    assert.equal(progressBar(5, 5, 4), "[####] 100%  0.0/0.0 MiB");
  });
});
