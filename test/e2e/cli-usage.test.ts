import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { main } from "../../packages/cli/src/main.ts";
import { osvRecord } from "../../packages/server/test/store-fixtures.ts";
import { CLI, ROOT, runCli, startTestServer, type TestServer, tempDir } from "../helpers.ts";

const SBOM = join(ROOT, "test/data/sbom/cdxgen-12.8.4-bulwark.cdx.json");

/** The CLI's `main` in this process (a child process per command costs ~1 s of start-up each). */
async function inProcess(argv: string[], env: NodeJS.ProcessEnv) {
  let stdout = "";
  let stderr = "";
  const code = await main(argv, env, {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
  });
  return { code, stdout, stderr };
}

describe("the CLI as a new user meets it, against a real server", () => {
  let server: TestServer;
  let env: Record<string, string>;
  before(async () => {
    server = await startTestServer();
    env = {
      BULWARK_URL: server.httpUrl,
      BULWARK_CA_FILE: server.rootPemPath,
      BULWARK_API_KEY: server.adminKey,
    };
  });
  after(async () => {
    await server.close();
  });

  it("--json works on every list command, and the table is the default", async () => {
    for (const list of [
      ["group", "list"],
      ["api-key", "list"],
      ["user", "list"],
      ["policy", "list"],
      ["ca", "list"],
      ["cert", "list"],
      ["device", "list"],
      ["findings", "list"],
      ["security-events", "list"],
      ["session", "list"],
    ]) {
      const json = await inProcess([...list, "--json"], env);
      assert.equal(json.code, 0, `${list.join(" ")}: ${json.stderr}`);
      const page = JSON.parse(json.stdout) as { items: unknown[] };
      assert.ok(Array.isArray(page.items), list.join(" "));
      const text = await inProcess(list, env);
      assert.equal(text.code, 0, text.stderr);
      assert.throws(
        () => JSON.parse(text.stdout),
        SyntaxError,
        `${list.join(" ")} prints a table by default`,
      );
    }
    const groups = JSON.parse((await inProcess(["group", "list", "--json"], env)).stdout) as {
      items: { name: string }[];
    };
    assert.ok(groups.items.some((g) => g.name === "default"));
  });

  it("a server certificate not issued by the trusted root is named as such, in one line", async () => {
    const other = await startTestServer();
    try {
      const r = await runCli(CLI, ["group", "list"], { ...env, BULWARK_CA_FILE: other.rootPemPath });
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        /^bulwark group list: the server at https:\/\/127\.0\.0\.1:\d+ is not trusted \(.+\); check BULWARK_CA_FILE or BULWARK_CA_FINGERPRINT\n$/,
      );
    } finally {
      await other.close();
    }
  });

  it("a value the server refuses is named by the option typed, in one line", async () => {
    const short = await runCli(CLI, ["token", "create", "--group", "default", "--ttl", "5"], env);
    assert.equal(short.code, 1);
    assert.equal(
      short.stderr,
      "bulwark token create: --ttl must be at least 60 seconds (BW_ERR_VALIDATION)\n",
    );
    const limit = await runCli(CLI, ["device", "list", "--limit", "100000"], env);
    assert.equal(limit.code, 1);
    assert.match(limit.stderr, /^bulwark device list: --limit must be at most \d+ \(BW_ERR_VALIDATION\)\n$/);
  });

  it("sbom upload and vuln import print a summary, and the whole answer with --json", async () => {
    const product = await server.api<{ id: string }>("POST", "/api/v1/products", { name: "cli-summary" });
    const release = await server.api<{ id: string }>("POST", `/api/v1/products/${product.body.id}/releases`, {
      version: "1.0.0",
    });
    assert.equal(release.status, 201, JSON.stringify(release.body));
    const upload = await runCli(CLI, ["sbom", "upload", release.body.id, SBOM], env);
    assert.equal(upload.code, 0, upload.stderr);
    assert.match(
      upload.stdout,
      /^SBOM [0-9a-f-]+: cyclonedx 1\.6 .*\d+ component\(s\)\nminimum elements: NTIA (yes|no), BSI TR-03183-2 (yes|no)/,
    );
    assert.match(
      upload.stdout,
      /\nfindings: \d+ new, \d+ reopened, \d+ resolved, \d+ updated; \d+ notification\(s\) queued\n$/,
    );
    const again = await runCli(CLI, ["sbom", "upload", release.body.id, SBOM, "--json"], env);
    assert.equal(again.code, 0, again.stderr);
    const whole = JSON.parse(again.stdout) as { sbom: { specVersion: string; minimumElements: object } };
    assert.equal(whole.sbom.specVersion, "1.6");
    assert.ok(whole.sbom.minimumElements);

    const dir = join(tempDir("bulwark-cli-osv-"), "osv");
    mkdirSync(dir);
    writeFileSync(
      join(dir, "GHSA-cli0-0000-0001.json"),
      JSON.stringify(osvRecord({ id: "GHSA-cli0-0000-0001", name: "left-pad", fixed: "9.0.0" })),
    );
    const imported = await runCli(CLI, ["vuln", "import", dir], env);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(
      imported.stdout,
      /^advisories: 1 record\(s\): 1 new, 0 updated, 0 unchanged, 0 withdrawn; 1 package\(s\)\nfindings: /,
    );
    const json = await runCli(CLI, ["vuln", "import", dir, "--json"], env);
    assert.equal((JSON.parse(json.stdout) as { unchanged: number }).unchanged, 1);
  });
});
