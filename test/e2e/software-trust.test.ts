import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { validateSchema } from "../../packages/sdk/src/software/sbom/schema.ts";
import { osvRecord, softwareCounts } from "../../packages/server/test/store-fixtures.ts";
import { CLI, ROOT, runCli, startTestServer, type TestServer, tempDir, waitFor } from "../helpers.ts";

const CDXGEN = join(ROOT, "test/data/sbom/cdxgen-12.8.4-bulwark.cdx.json");
const GO_VULNDB = join(ROOT, "test/data/osv/go-vulndb-osv.tar.gz");

interface Problem {
  code: string;
  detail?: string;
  status: number;
}

/** A real webhook receiver on loopback that checks each delivery's HMAC before accepting it. */
function receiver(secret: () => string) {
  const verified: { event: string; body: { data: { vulnerability: string; id: string } } }[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(req.headers["bulwark-signature"]));
      const ok = m && createHmac("sha256", secret()).update(`${m[1]}.${body}`).digest("hex") === m[2];
      if (ok) verified.push({ event: String(req.headers["bulwark-event"]), body: JSON.parse(body) });
      res.statusCode = ok ? 204 : 401;
      res.end();
    });
  });
  return { server, verified };
}

describe("software trust end to end: SBOM → advisories → finding → webhook → triage → VEX; signing", () => {
  let server: TestServer;
  let env: Record<string, string>;
  let releaseId: string;
  let webhookSecret = "";
  const hook = receiver(() => webhookSecret);
  const work = tempDir("bulwark-software-e2e-");

  before(async () => {
    // The test's webhook receiver listens on loopback over plain http; webhooks may do neither by default.
    server = await startTestServer({ args: ["--webhook-allow-local", "--webhook-allow-http"] });
    env = {
      BULWARK_URL: server.httpUrl,
      BULWARK_API_KEY: server.adminKey,
      BULWARK_CA_FILE: server.rootPemPath,
    };
    await new Promise<void>((resolve) => hook.server.listen(0, "127.0.0.1", resolve));
  });
  after(async () => {
    hook.server.close();
    await server.close();
  });

  it("creates a product release and attaches a cdxgen-made CycloneDX 1.6 SBOM with its minimum-elements report", async () => {
    const product = await server.api<{ id: string }>("POST", "/api/v1/products", { name: "gateway" });
    assert.equal(product.status, 201);
    const release = await server.api<{ id: string }>("POST", `/api/v1/products/${product.body.id}/releases`, {
      version: "1.0.0",
      classification: "feature",
    });
    assert.equal(release.status, 201);
    releaseId = release.body.id;
    const upload = await runCli(CLI, ["sbom", "upload", releaseId, CDXGEN, "--json"], env);
    assert.equal(upload.code, 0, upload.stderr);
    const summary = JSON.parse(upload.stdout) as {
      sbom: {
        components: number;
        specVersion: string;
        minimumElements: { ntiaConforms: boolean; gaps: unknown[] };
      };
    };
    assert.equal(summary.sbom.specVersion, "1.6");
    assert.equal(summary.sbom.components, 176);
    assert.equal(summary.sbom.minimumElements.ntiaConforms, false, "cdxgen leaves suppliers out");
    assert.ok(summary.sbom.minimumElements.gaps.length > 0);
    const listed = await server.api<{ items: unknown[] }>("GET", `/api/v1/releases/${releaseId}/sboms`);
    assert.equal(listed.body.items.length, 1);
  });

  it("generates a CycloneDX SBOM from a package-lock through the API and attaches it", async () => {
    const lock = readFileSync(join(ROOT, "package-lock.json"), "utf8");
    const generated = await server.api<{ bomFormat: string; components: unknown[] }>(
      "POST",
      "/api/v1/sboms/generate?from=package-lock&format=cyclonedx&creator=sbom%40acme.example",
      lock,
    );
    assert.equal(generated.status, 200);
    assert.equal(generated.body.bomFormat, "CycloneDX");
    // BSI TR-03183-2 v2.1.0 §5.2.1: the SBOM's creator is stated by the caller, never made up.
    for (const query of ["", "&creator=ACME%20GmbH"]) {
      const anonymous = await server.api<{ status: number }>(
        "POST",
        `/api/v1/sboms/generate?from=package-lock${query}`,
        lock,
      );
      assert.equal(anonymous.status, 400, query);
    }
    const spdx = await server.api<{ spdxVersion: string }>(
      "POST",
      "/api/v1/sboms/generate?from=package-lock&format=spdx&creator=sbom%40acme.example",
      lock,
    );
    assert.equal(spdx.body.spdxVersion, "SPDX-2.3");
    const spdx3 = await server.api<{ "@context": string; "@graph": { type: string }[] }>(
      "POST",
      "/api/v1/sboms/generate?from=package-lock&format=spdx3&creator=https%3A%2F%2Facme.example",
      lock,
    );
    assert.equal(spdx3.body["@context"], "https://spdx.org/rdf/3.0.1/spdx-context.jsonld");
    assert.ok(spdx3.body["@graph"].some((e) => e.type === "software_File"));
    const attached = await server.api(
      "POST",
      `/api/v1/releases/${releaseId}/sboms`,
      JSON.stringify(generated.body),
    );
    assert.equal(attached.status, 201);
  });

  it("refuses malformed, deeply nested, unsupported and huge SBOMs with problem+json, changing nothing", async () => {
    const counts = await softwareCounts(server.store);
    const send = (body: string | Buffer) =>
      server.api<Problem>("POST", `/api/v1/releases/${releaseId}/sboms`, body);
    const malformed = await send('{"bomFormat": "CycloneDX", "specVersion": "1.6", ');
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.code, "BW_ERR_SBOM_INVALID");
    assert.equal(malformed.headers["content-type"], "application/problem+json; charset=utf-8");
    const deep = await send(`${"[".repeat(100_000)}${"]".repeat(100_000)}`);
    assert.equal(deep.status, 400);
    assert.equal(deep.body.code, "BW_ERR_SBOM_TOO_DEEP");
    const invalid = await send(
      JSON.stringify({ bomFormat: "CycloneDX", specVersion: "1.6", components: "x" }),
    );
    assert.equal(invalid.body.code, "BW_ERR_SBOM_INVALID");
    const spdx3 = await send(JSON.stringify({ spdxVersion: "SPDX-9.9" }));
    assert.equal(spdx3.status, 415);
    assert.equal(spdx3.body.code, "BW_ERR_SBOM_UNSUPPORTED");
    const huge = await send(Buffer.alloc(17 * 1024 * 1024, 0x20));
    assert.equal(huge.status, 413);
    assert.equal(huge.body.code, "BW_ERR_PAYLOAD_TOO_LARGE");
    const missing = await server.api<Problem>(
      "POST",
      "/api/v1/releases/00000000-0000-4000-8000-000000000000/sboms",
      readFileSync(CDXGEN),
    );
    assert.equal(missing.status, 404);
    assert.deepEqual(await softwareCounts(server.store), counts);
  });

  it("refuses a bad OSV upload with the record's path, and an oversized record, changing nothing", async () => {
    const counts = await softwareCounts(server.store);
    const dir = join(work, "bad-osv");
    mkdirSync(dir);
    writeFileSync(
      join(dir, "GHSA-good-0000-0001.json"),
      JSON.stringify(osvRecord({ id: "GHSA-good-0000-0001", name: "mqtt", fixed: "9.0.0" })),
    );
    writeFileSync(join(dir, "PYSEC-bad.yaml"), "id: PYSEC-bad\nmodified: not-a-date\naffected: 7\n");
    const bad = await runCli(CLI, ["vuln", "import", dir], env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /PYSEC-bad\.yaml/);
    assert.match(bad.stderr, /BW_ERR_OSV_INVALID/);
    const big = await server.api<Problem>(
      "POST",
      "/api/v1/vulnerabilities/osv",
      JSON.stringify({ id: "X", pad: "x".repeat(5 * 1024 * 1024) }),
    );
    assert.equal(big.status, 413);
    assert.equal(big.body.code, "BW_ERR_OSV_TOO_LARGE");
    const anonymous = await server.api<Problem>(
      "POST",
      "/api/v1/vulnerabilities/osv",
      readFileSync(GO_VULNDB),
      {
        authorization: "",
        "content-type": "application/gzip",
      },
    );
    assert.equal(anonymous.status, 401, "no body is spooled for a caller without a key");
    assert.deepEqual(await softwareCounts(server.store), counts);
  });

  it("imports the real Go vulndb through the API, idempotently", async () => {
    const first = await runCli(CLI, ["vuln", "import", GO_VULNDB, "--json"], env);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(JSON.parse(first.stdout).inserted, 4291);
    const again = await runCli(CLI, ["vuln", "import", GO_VULNDB, "--json"], env);
    assert.equal(JSON.parse(again.stdout).unchanged, 4291);
    const stats = await server.api<{ advisories: number }>("GET", "/api/v1/vulnerabilities/stats");
    assert.equal(stats.body.advisories, 4291);
  });

  it("an advisory import finds the vulnerable component and notifies the signed webhook", async () => {
    const address = hook.server.address() as AddressInfo;
    const created = await server.api<{ id: string; secret: string }>("POST", "/api/v1/webhooks", {
      url: `http://127.0.0.1:${address.port}/bulwark`,
    });
    assert.equal(created.status, 201);
    webhookSecret = created.body.secret;
    const dir = join(work, "osv");
    mkdirSync(dir);
    const advisory = osvRecord({
      id: "GHSA-mqtt-0000-0001",
      aliases: ["CVE-2099-0001"],
      name: "mqtt",
      introduced: "5.0.0",
      fixed: "5.99.0",
      cvss: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    });
    writeFileSync(join(dir, "GHSA-mqtt-0000-0001.json"), JSON.stringify(advisory));
    const imported = await runCli(CLI, ["vuln", "import", dir, "--json"], env);
    assert.equal(imported.code, 0, imported.stderr);
    assert.equal(JSON.parse(imported.stdout).rematch.created, 1);
    const list = await runCli(CLI, ["findings", "list", "--release", releaseId, "--json"], env);
    const page = JSON.parse(list.stdout) as {
      items: { id: string; vulnerability: string; severity: string }[];
    };
    const finding = page.items.find((f) => f.vulnerability === "CVE-2099-0001");
    assert.ok(finding);
    assert.equal(finding.severity, "critical");
    const delivered = await waitFor("a verified webhook delivery", async () =>
      hook.verified.find((v) => v.body.data.id === finding.id),
    );
    assert.equal(delivered.event, "finding.new");
    const log = await server.api<{ items: { status: string }[] }>(
      "GET",
      `/api/v1/webhooks/${created.body.id}/deliveries`,
    );
    assert.ok(log.body.items.some((d) => d.status === "delivered"));

    const triaged = await runCli(
      CLI,
      [
        "triage",
        finding.id,
        "--state",
        "not_affected",
        "--justification",
        "code_not_reachable",
        "--detail",
        "MQTT v3 only",
      ],
      env,
    );
    assert.equal(triaged.code, 0, triaged.stderr);
    const audit = await server.store.get<{ n: number }>(
      `SELECT COUNT(*) AS n FROM audit_log WHERE action = 'finding.triage' AND target_id = ?`,
      [finding.id],
    );
    assert.equal(Number(audit?.n), 1);
    const refused = await server.api<Problem>("POST", `/api/v1/findings/${finding.id}/triage`, {
      state: "affected",
    });
    assert.equal(refused.status, 400, "affected needs an action statement");

    const vex = await runCli(CLI, ["vex", "export", releaseId, "--format", "cyclonedx"], env);
    assert.equal(vex.code, 0, vex.stderr);
    const doc = JSON.parse(vex.stdout) as {
      vulnerabilities: { id: string; analysis: { state: string; justification: string } }[];
    };
    validateSchema("cyclonedx-1.6", doc, "vex");
    const entry = doc.vulnerabilities.find((v) => v.id === "CVE-2099-0001")!;
    assert.deepEqual(
      [entry.analysis.state, entry.analysis.justification],
      ["not_affected", "code_not_reachable"],
    );
    const openvex = await runCli(CLI, ["vex", "export", releaseId], env);
    const statements = (
      JSON.parse(openvex.stdout) as {
        statements: { vulnerability: { name: string }; justification?: string }[];
      }
    ).statements;
    assert.equal(
      statements.find((s) => s.vulnerability.name === "CVE-2099-0001")?.justification,
      "vulnerable_code_not_in_execute_path",
    );
  });

  it("imports the real CISA KEV catalogue and generates an SBOM offline with the CLI", async () => {
    const kev = await runCli(
      CLI,
      ["kev", "import", join(ROOT, "test/data/kev/known_exploited_vulnerabilities.json.gz"), "--json"],
      env,
    );
    assert.equal(kev.code, 0, kev.stderr);
    const summary = JSON.parse(kev.stdout) as { entries: number; added: number };
    assert.ok(summary.entries > 1000);
    assert.equal(summary.added, summary.entries);
    const requirements = join(work, "requirements.txt");
    writeFileSync(requirements, "jinja2==2.10\nurllib3==1.26.5\n");
    const generated = await runCli(
      CLI,
      [
        "sbom",
        "generate",
        "--from",
        "requirements",
        "--creator",
        "https://acme.example",
        "--format",
        "spdx",
        requirements,
      ],
      {
        BULWARK_URL: "",
        BULWARK_API_KEY: "",
      },
    );
    assert.equal(generated.code, 0, generated.stderr);
    const doc = JSON.parse(generated.stdout) as { spdxVersion: string; packages: { name: string }[] };
    assert.equal(doc.spdxVersion, "SPDX-2.3");
    assert.ok(doc.packages.some((p) => p.name === "jinja2"));
    const bad = await runCli(CLI, [
      "sbom",
      "generate",
      "--from",
      "requirements",
      "--creator",
      "sbom@acme.example",
      CDXGEN,
    ]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /BW_ERR_LOCKFILE_INVALID/);
  });

  it("signs a release artifact with custody keys and verifies it offline with the public keys only", async () => {
    const pub = join(work, "release.pub.pem");
    const created = await runCli(CLI, ["signing-key", "create", "gateway-releases", "--out", pub], env);
    assert.equal(created.code, 0, created.stderr);
    const keyId = created.stdout.trim();
    const artifact = join(work, "gateway-1.0.0.bin");
    writeFileSync(artifact, Buffer.from("firmware image ".repeat(10_000)));
    const signed = await runCli(CLI, ["sign", artifact, "--key", keyId], env);
    assert.equal(signed.code, 0, signed.stderr);
    const sigPath = signed.stdout.trim();
    // Verification needs no server: no URL, no API key.
    const ok = await runCli(CLI, ["verify", artifact, sigPath, "--key", pub], {
      BULWARK_URL: "",
      BULWARK_API_KEY: "",
    });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /ECDSA P-256 and ML-DSA-65/);
    writeFileSync(artifact, Buffer.from("firmware image ".repeat(10_001)));
    const tampered = await runCli(CLI, ["verify", artifact, sigPath, "--key", pub]);
    assert.equal(tampered.code, 1);
    assert.match(tampered.stderr, /digest-mismatch/);
    const published = await server.api("GET", `/api/v1/signing-keys/${keyId}/public-key`, undefined, {
      authorization: "",
    });
    assert.equal(published.body, readFileSync(pub, "utf8"));
  });

  it("signing is gated by role: a security analyst may not sign; the refusal changes nothing", async () => {
    const key = await server.api<{ key: string }>("POST", "/api/v1/api-keys", {
      name: "analyst",
      role: "security-analyst",
    });
    assert.equal(key.status, 201);
    const keys = await server.api<{ items: { id: string }[] }>("GET", "/api/v1/signing-keys");
    const before = await server.store.get<{ n: number }>(`SELECT COUNT(*) AS n FROM release_signatures`);
    const denied = await server.api<Problem>(
      "POST",
      `/api/v1/signing-keys/${keys.body.items[0]!.id}/signatures`,
      { name: "x.bin", size: 1, sha256: "a".repeat(64), sha512: "b".repeat(128) },
      { authorization: `Bearer ${key.body.key}` },
    );
    assert.equal(denied.status, 403);
    assert.equal(denied.body.code, "BW_ERR_FORBIDDEN");
    const after = await server.store.get<{ n: number }>(`SELECT COUNT(*) AS n FROM release_signatures`);
    assert.equal(Number(after?.n), Number(before?.n));
  });
});
