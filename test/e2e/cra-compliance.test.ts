import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { unzipSync, zipSync } from "fflate";
import { CLI, runCli, startTestServer, type TestServer, tempDir } from "../helpers.ts";

/** Issue #16 through the HTTP API and the CLI: product CRA data, risk assessment, the Annex I matrix. */
const PARTY = {
  name: "Acme Devices GmbH",
  address: "Hauptstr. 1, 10115 Berlin",
  country: "DE",
  email: "psirt@acme.example",
};
const PROFILE = {
  manufacturer: PARTY,
  intendedPurpose: "A home gateway that connects sensors to the maker's cloud",
  memberStates: ["DE", "FR", "NL"],
  category: "important-class-i",
  annexCategory: "routers, modems intended for the connection to the internet, and switches",
  categoryRationale:
    "Its core functionality is routing between the home network and the internet (Reg. (EU) 2025/2392, Annex I point 12)",
  conformityRoute: "module-b+c",
};
const applies = (how: string) => ({ applies: true, how, justification: "in the threat model" });
const RISK = {
  context: "home use, internet facing",
  assets: [
    { id: "fw", description: "firmware" },
    { id: "keys", description: "device key" },
  ],
  threats: [
    { id: "t1", description: "remote code execution", assets: ["fw"], likelihood: "medium", impact: "high" },
  ],
  applicability: Object.fromEntries(
    ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"]
      .map((k) => [k, applies("platform controls")])
      .concat([["m", { applies: false, how: "", justification: "the gateway stores no user data" }]]),
  ),
};

describe("CRA compliance (issue #16)", () => {
  let server: TestServer;
  let product: string;
  before(async () => {
    server = await startTestServer();
    product = (await server.api<{ id: string }>("POST", "/api/v1/products", { name: "gateway" })).body.id;
    await server.api("POST", `/api/v1/products/${product}/releases`, { version: "1.0.0" });
  });
  after(async () => {
    await server.close();
  });

  it("keeps a product's CRA data, refusing a conformity route its category does not admit", async () => {
    const wrong = await server.api<{ code: string; detail: string }>(
      "PUT",
      `/api/v1/products/${product}/cra`,
      {
        ...PROFILE,
        conformityRoute: "module-a",
      },
    );
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body.code, "BW_ERR_VALIDATION");
    assert.match(wrong.body.detail, /Art\. 32/);
    const ok = await server.api<{ category: string }>("PUT", `/api/v1/products/${product}/cra`, PROFILE);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const short = await server.api<{ items: { version: string; warning: string | null }[] }>(
      "PUT",
      `/api/v1/products/${product}/support-periods/1.0.0`,
      { endsAt: new Date(Date.now() + 2 * 365 * 86_400_000).toISOString().slice(0, 10) },
    );
    assert.equal(short.status, 200);
    assert.match(short.body.items[0]!.warning ?? "", /less than five years/);
    const shown = await server.api<{
      profile: { memberStates: string[] };
      coordinator: { memberState: string };
    }>("GET", `/api/v1/products/${product}/cra`);
    assert.deepEqual(shown.body.profile.memberStates, ["DE", "FR", "NL"]);
    assert.equal(shown.body.coordinator.memberState, "DE");
  });

  it("versions risk assessments and uses their exclusions in the matrix", async () => {
    const bad = await server.api<{ code: string }>("POST", `/api/v1/products/${product}/risk-assessments`, {
      ...RISK,
      threats: [{ ...RISK.threats[0], assets: ["nothing"] }],
    });
    assert.equal(bad.status, 400);
    const first = await server.api<{ version: number }>(
      "POST",
      `/api/v1/products/${product}/risk-assessments`,
      RISK,
    );
    assert.equal(first.status, 201);
    assert.equal(first.body.version, 1);
    const matrix = await server.api<{ requirements: { id: string; status: string; reason: string }[] }>(
      "GET",
      `/api/v1/products/${product}/annex-i`,
    );
    assert.equal(matrix.status, 200);
    assert.equal(matrix.body.requirements.length, 22);
    const m = matrix.body.requirements.find((r) => r.id === "I-2(m)")!;
    assert.equal(m.status, "not-applicable");
    assert.equal(m.reason, "the gateway stores no user data");
    // No group is linked and no update system exists: those rows must say so, not claim "met".
    assert.equal(matrix.body.requirements.find((r) => r.id === "II-7")!.status, "not-met");
    assert.equal(matrix.body.requirements.find((r) => r.id === "I-2(c)")!.status, "not-met");
  });

  it("bulwark cra matrix prints the matrix, and --json the same document", async () => {
    const env = {
      BULWARK_URL: server.httpUrl,
      BULWARK_API_KEY: server.adminKey,
      BULWARK_CA_FILE: server.rootPemPath,
    };
    const text = await runCli(CLI, ["cra", "matrix", product], env);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^Annex I matrix of gateway/);
    assert.match(text.stdout, /II-1\s+met|II-1\s+partly-met|II-1\s+not-met/);
    const asJson = await runCli(CLI, ["cra", "matrix", product, "--json"], env);
    assert.equal((JSON.parse(asJson.stdout) as { requirements: unknown[] }).requirements.length, 22);
    const usage = await runCli(CLI, ["cra", "matrix"], env);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /cra matrix needs PRODUCT_ID/);
  });

  it("security test records flip Part II (3): none → not met, one per recent release → met", async () => {
    const env = {
      BULWARK_URL: server.httpUrl,
      BULWARK_API_KEY: server.adminKey,
      BULWARK_CA_FILE: server.rootPemPath,
    };
    const status = async () =>
      (
        await server.api<{ requirements: { id: string; status: string }[] }>(
          "GET",
          `/api/v1/products/${product}/annex-i`,
        )
      ).body.requirements.find((r) => r.id === "II-3")!.status;
    assert.equal(await status(), "not-met");
    const releases = await server.api<{ items: { id: string }[] }>(
      "GET",
      `/api/v1/products/${product}/releases`,
    );
    const bad = await runCli(
      CLI,
      [
        "cra",
        "test",
        "add",
        product,
        "--kind",
        "penetration-test",
        "--tool",
        "x",
        "--outcome",
        "maybe",
        "--summary",
        "s",
      ],
      env,
    );
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /BW_ERR_VALIDATION/);
    const added = await runCli(
      CLI,
      [
        "cra",
        "test",
        "add",
        product,
        "--kind",
        "penetration-test",
        "--tool",
        "OWASP ZAP 2.16",
        "--outcome",
        "pass",
        "--summary",
        "external web UI test",
        "--release",
        releases.body.items[0]!.id,
      ],
      env,
    );
    assert.equal(added.code, 0, added.stderr);
    assert.equal(await status(), "met");
    const list = await runCli(CLI, ["cra", "test", "list", product], env);
    assert.match(list.stdout, /penetration-test\s+pass\s+OWASP ZAP 2\.16/);
  });

  it("exports the Annex VII / V / II bundle, signed by the platform's PKI and verifiable offline", async () => {
    const env = {
      BULWARK_URL: server.httpUrl,
      BULWARK_API_KEY: server.adminKey,
      BULWARK_CA_FILE: server.rootPemPath,
    };
    await server.api("POST", `/api/v1/products/${product}/risk-assessments`, {
      ...RISK,
      context: "<script>alert(1)</script>",
    });
    const dir = tempDir("bulwark-cra-export-");
    const file = join(dir, "gateway.zip");
    const exported = await runCli(CLI, ["cra", "export", product, "--out", file], env);
    assert.equal(exported.code, 0, exported.stderr);
    const files = unzipSync(readFileSync(file));
    assert.deepEqual(Object.keys(files).sort(), [
      "declaration-of-conformity.html",
      "declaration-of-conformity.json",
      "manifest.json",
      "signature.json",
      "technical-documentation.html",
      "technical-documentation.json",
      "user-information.html",
      "user-information.json",
    ]);
    const declaration = JSON.parse(Buffer.from(files["declaration-of-conformity.json"]!).toString()) as {
      status: string;
      blockingRequirements: string[];
    };
    assert.equal(declaration.status, "draft: not ready to sign");
    assert.ok(declaration.blockingRequirements.some((r) => r.startsWith("II-7: ")));
    const html = Buffer.from(files["technical-documentation.html"]!).toString();
    assert.ok(!html.includes("<script>") && html.includes("&lt;script&gt;"), "document text is escaped");
    const ok = await runCli(CLI, ["cra", "verify-export", file], { BULWARK_CA_FILE: server.rootPemPath });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^verified: 6 files of gateway, signed by CN=Bulwark CRA Documentation Signer/);
    // One changed byte in a document, then a rewritten manifest: each is caught.
    const tampered = { ...files, "user-information.json": Buffer.from("{}\n") };
    writeFileSync(join(dir, "t1.zip"), zipSync(tampered));
    const t1 = await runCli(CLI, ["cra", "verify-export", join(dir, "t1.zip")], {
      BULWARK_CA_FILE: server.rootPemPath,
    });
    assert.equal(t1.code, 1);
    assert.match(t1.stderr, /user-information\.json does not match its hash/);
    const manifest = JSON.parse(Buffer.from(files["manifest.json"]!).toString()) as {
      files: { path: string; sha256: string }[];
    };
    manifest.files = manifest.files.filter((f) => f.path !== "user-information.json");
    writeFileSync(
      join(dir, "t2.zip"),
      zipSync({ ...files, "manifest.json": Buffer.from(JSON.stringify(manifest)) }),
    );
    const t2 = await runCli(CLI, ["cra", "verify-export", join(dir, "t2.zip")], {
      BULWARK_CA_FILE: server.rootPemPath,
    });
    assert.equal(t2.code, 1);
    assert.match(t2.stderr, /the manifest signature does not verify/);
    assert.match(t2.stderr, /user-information\.json is not in the manifest/);
  });
});
