import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { unzipSync } from "fflate";
import { httpsRequest } from "../../packages/sdk/src/https.ts";
import { createApiKey } from "../../packages/server/src/access/api-keys.ts";
import { createUser } from "../../packages/server/src/access/users.ts";
import { CLI, ROOT, runCli, startTestServer, type TestServer, tempDir } from "../helpers.ts";

/**
 * Issue #16 item 8 through the HTTP API: each SBOM is kept exactly as uploaded, downloadable by
 * whoever may read its product, shipped as is in the CRA technical documentation, and Part II (1)
 * reports its BSI TR-03183-2 v2.1.0 gaps.
 */
const CDXGEN = join(ROOT, "test/data/sbom/cdxgen-12.8.4-bulwark.cdx.json");
const SHA512 = "ab".repeat(64);

function component(ref: string, file: string): Record<string, unknown> {
  return {
    type: "library",
    "bom-ref": ref,
    name: ref,
    version: "1.0.0",
    purl: `pkg:generic/${ref}@1.0.0`,
    manufacturer: { name: "ACME", contact: [{ email: "dev@acme.example" }] },
    licenses: [{ expression: "Apache-2.0", acknowledgement: "concluded" }],
    externalReferences: [
      {
        type: "distribution",
        url: `https://acme.example/${file}`,
        hashes: [{ alg: "SHA-512", content: SHA512 }],
      },
    ],
    properties: [
      { name: "bsi:component:filename", value: file },
      { name: "bsi:component:executable", value: "executable" },
      { name: "bsi:component:archive", value: "no archive" },
      { name: "bsi:component:structured", value: "unstructured" },
    ],
  };
}

// A conforming CycloneDX 1.6 SBOM, written with its own layout (tabs, key order, a trailing
// newline) so that a re-serialisation would show.
const CONFORMING = `${JSON.stringify(
  {
    specVersion: "1.6",
    bomFormat: "CycloneDX",
    version: 1,
    metadata: {
      timestamp: "2026-12-01T10:00:00Z",
      manufacturer: { name: "ACME", url: ["https://acme.example"] },
      component: { ...component("fw", "fw.bin"), type: "firmware" },
    },
    components: [component("libx", "libx.so.1")],
    dependencies: [
      { ref: "fw", dependsOn: ["libx"] },
      { ref: "libx", dependsOn: [] },
    ],
    compositions: [{ aggregate: "complete", dependencies: ["fw", "libx"] }],
  },
  null,
  "\t",
)}\n`;

describe("SBOM originals and the TR-03183-2 v2.1 gate (issue #16 item 8)", () => {
  let server: TestServer;
  let product: string;
  let other: string;
  let conforming: string;
  let cdxgen: string;
  const cdxgenText = readFileSync(CDXGEN, "utf8");

  const raw = (id: string, key = server.adminKey) =>
    httpsRequest({
      url: new URL(`/api/v1/sboms/${id}/raw`, server.httpUrl).href,
      method: "GET",
      ca: server.rootPem,
      headers: { authorization: `Bearer ${key}` },
    });

  before(async () => {
    server = await startTestServer();
    product = (await server.api<{ id: string }>("POST", "/api/v1/products", { name: "gateway" })).body.id;
    other = (await server.api<{ id: string }>("POST", "/api/v1/products", { name: "camera" })).body.id;
  });
  after(async () => {
    await server.close();
  });

  it("keeps each upload byte for byte (small as is, large compressed) and serves it with its digest", async () => {
    const r1 = await server.api<{ id: string }>("POST", `/api/v1/products/${product}/releases`, {
      version: "1.0.0",
    });
    const up1 = await server.api<{ sbom: { id: string; sha256: string } }>(
      "POST",
      `/api/v1/releases/${r1.body.id}/sboms`,
      CONFORMING,
    );
    assert.equal(up1.status, 201, JSON.stringify(up1.body));
    conforming = up1.body.sbom.id;
    const got = await raw(conforming);
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(Buffer.from(CONFORMING)), "the exact uploaded bytes");
    assert.equal(got.headers["content-type"], "application/vnd.cyclonedx+json");
    assert.equal(
      got.headers["repr-digest"],
      `sha-256=:${createHash("sha256").update(CONFORMING).digest("base64")}:`,
    );
    assert.equal(createHash("sha256").update(got.body).digest("hex"), up1.body.sbom.sha256);

    const r2 = await server.api<{ id: string }>("POST", `/api/v1/products/${product}/releases`, {
      version: "1.1.0",
    });
    const up2 = await server.api<{ sbom: { id: string } }>(
      "POST",
      `/api/v1/releases/${r2.body.id}/sboms`,
      cdxgenText,
    );
    assert.equal(up2.status, 201);
    cdxgen = up2.body.sbom.id;
    const stored = await server.store.get<{ encoding: string; bytes: number; content: Uint8Array }>(
      `SELECT encoding, bytes, content FROM sbom_raw WHERE sha256 = ?`,
      [createHash("sha256").update(cdxgenText).digest("hex")],
    );
    assert.equal(stored?.encoding, "gzip");
    assert.equal(Number(stored?.bytes), Buffer.byteLength(cdxgenText));
    assert.ok(stored!.content.length * 5 < Number(stored!.bytes), "compressed at least fivefold");
    assert.ok((await raw(cdxgen)).body.equals(Buffer.from(cdxgenText)));
  });

  it("serves an original only to callers who may read its product", async () => {
    const user = await createUser(server.store, {
      username: "camera-op",
      password: "unused long password",
      role: null,
      mustChangePassword: false,
    });
    const assigned = await server.api("POST", `/api/v1/users/${user.id}/role-assignments`, {
      role: "operator",
      productId: other,
    });
    assert.equal(assigned.status, 201);
    const { key } = await createApiKey(server.store, {
      ownerId: user.id,
      name: "c",
      role: "operator",
      expiresAt: null,
    });
    const denied = await raw(conforming, key);
    assert.equal(denied.status, 403);
    assert.equal(JSON.parse(denied.body.toString()).code, "BW_ERR_FORBIDDEN");
    // The same caller, once granted the gateway product, reads it.
    await server.api("POST", `/api/v1/users/${user.id}/role-assignments`, {
      role: "operator",
      productId: product,
    });
    assert.equal((await raw(conforming, key)).status, 200);
    const missing = await raw("00000000-0000-4000-8000-000000000000");
    assert.equal(missing.status, 404);
    const anonymous = await httpsRequest({
      url: new URL(`/api/v1/sboms/${conforming}/raw`, server.httpUrl).href,
      method: "GET",
      ca: server.rootPem,
    });
    assert.equal(anonymous.status, 401);
  });

  it("Part II (1) is partly met on the cdxgen SBOM's gaps, naming count, first components and clause", async () => {
    const matrix = await server.api<{
      requirements: { id: string; status: string; reason: string; evidence: { detail: string }[] }[];
    }>("GET", `/api/v1/products/${product}/annex-i`);
    const ii1 = matrix.body.requirements.find((r) => r.id === "II-1")!;
    assert.equal(ii1.status, "partly-met", ii1.reason);
    assert.match(ii1.reason, /BSI TR-03183-2 v2\.1\.0 gaps on 1\.1\.0$/);
    const details = ii1.evidence.map((e) => e.detail);
    assert.ok(
      details.includes("1.0.0: cyclonedx 1.6, 2 components; BSI TR-03183-2 v2.1.0: no gap"),
      details.join("\n"),
    );
    assert.ok(
      details.some((d) =>
        /^1\.1\.0: creator of the SBOM \(e-mail or URL\) \(BSI TR-03183-2 §5\.2\.1\)$/.test(d),
      ),
    );
    assert.ok(
      details.some((d) =>
        /^1\.1\.0: structured property \(BSI TR-03183-2 §5\.2\.2, §8\.1\.6\): 176 of 176 components, e\.g\. [^,]+, [^,]+, [^,]+, … 173 more$/.test(
          d,
        ),
      ),
      details.join("\n"),
    );
    // A product whose only SBOM conforms: met.
    const r = await server.api<{ id: string }>("POST", `/api/v1/products/${other}/releases`, {
      version: "2.0.0",
    });
    await server.api("POST", `/api/v1/releases/${r.body.id}/sboms`, CONFORMING);
    const clean = await server.api<{ requirements: { id: string; status: string; reason: string }[] }>(
      "GET",
      `/api/v1/products/${other}/annex-i`,
    );
    const met = clean.body.requirements.find((x) => x.id === "II-1")!;
    assert.equal(met.status, "met", met.reason);
  });

  it("the CRA export ships each SBOM as uploaded, under the signed manifest", async () => {
    const dir = tempDir("bulwark-sbom-export-");
    const file = join(dir, "gateway.zip");
    const env = {
      BULWARK_URL: server.httpUrl,
      BULWARK_API_KEY: server.adminKey,
      BULWARK_CA_FILE: server.rootPemPath,
    };
    const exported = await runCli(CLI, ["cra", "export", product, "--out", file], env);
    assert.equal(exported.code, 0, exported.stderr);
    const files = unzipSync(readFileSync(file));
    assert.ok(Buffer.from(files[`sboms/1.0.0/${conforming}.cdx.json`]!).equals(Buffer.from(CONFORMING)));
    assert.ok(Buffer.from(files[`sboms/1.1.0/${cdxgen}.cdx.json`]!).equals(Buffer.from(cdxgenText)));
    const doc = JSON.parse(Buffer.from(files["technical-documentation.json"]!).toString()) as {
      designAndVulnerabilityHandling: {
        sboms: { release: string; file: string; bsiTr03183Version: string; bsiTr03183Gaps: string[] }[];
      };
    };
    const listed = doc.designAndVulnerabilityHandling.sboms;
    assert.deepEqual(
      listed.map((s) => [s.release, s.file, s.bsiTr03183Version]),
      [
        ["1.0.0", `sboms/1.0.0/${conforming}.cdx.json`, "2.1.0"],
        ["1.1.0", `sboms/1.1.0/${cdxgen}.cdx.json`, "2.1.0"],
      ],
    );
    assert.ok(listed[1]!.bsiTr03183Gaps.includes("creator of the SBOM (e-mail or URL) (§5.2.1)"));
    const ok = await runCli(CLI, ["cra", "verify-export", file], { BULWARK_CA_FILE: server.rootPemPath });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^verified: 8 files of gateway/);
  });

  it("an SBOM stored before originals were kept answers 404 with the reason", async () => {
    const r = await server.api<{ id: string }>("POST", `/api/v1/products/${product}/releases`, {
      version: "1.2.0",
    });
    const text = CONFORMING.replace('"version": 1,', '"version": 2,');
    const up = await server.api<{ sbom: { id: string; sha256: string } }>(
      "POST",
      `/api/v1/releases/${r.body.id}/sboms`,
      text,
    );
    assert.equal((await raw(up.body.sbom.id)).status, 200);
    await server.store.run(`DELETE FROM sbom_raw WHERE sha256 = ?`, [up.body.sbom.sha256]);
    const gone = await raw(up.body.sbom.id);
    assert.equal(gone.status, 404);
    assert.match(JSON.parse(gone.body.toString()).detail, /stored before originals were kept/);
  });

  it("(2)(l) says what it verified: incremental by default, every entry on ?full=1", async () => {
    type Matrix = { requirements: { id: string; evidence: { detail: string }[] }[] };
    const audit = (m: Matrix) => m.requirements.find((r) => r.id === "I-2(l)")!.evidence[0]!.detail;
    const incremental = await server.api<Matrix>("GET", `/api/v1/products/${product}/annex-i`);
    assert.match(
      audit(incremental.body),
      /^chain verifies: entries \d+–\d+ \(\d+ new\) walked at .* \(incremental verification; \?full=1 walks them all\)$/,
    );
    const full = await server.api<Matrix>("GET", `/api/v1/products/${product}/annex-i?full=1`);
    assert.match(
      audit(full.body),
      /^chain verifies: every entry \(1–\d+, \d+ entries\) walked at .* \(full verification\)$/,
    );
    const bad = await server.api<{ code: string }>("GET", `/api/v1/products/${product}/annex-i?full=yes`);
    assert.equal(bad.status, 400);
    const env = {
      BULWARK_URL: server.httpUrl,
      BULWARK_API_KEY: server.adminKey,
      BULWARK_CA_FILE: server.rootPemPath,
    };
    const cli = await runCli(CLI, ["cra", "matrix", product, "--full", "--json"], env);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(audit(JSON.parse(cli.stdout) as Matrix), /\(full verification\)$/);
  });

  it("Part II (1) counts a report made before the v2.1 gate as partly met, and says why", async () => {
    type Matrix = {
      requirements: { id: string; status: string; reason: string; evidence: { detail: string }[] }[];
    };
    const ii1 = async () =>
      (await server.api<Matrix>("GET", `/api/v1/products/${other}/annex-i`)).body.requirements.find(
        (r) => r.id === "II-1",
      )!;
    assert.equal((await ii1()).status, "met");
    // The camera's one SBOM, as a v2.0-era report (no bsiVersion, no gaps) would have stored it.
    const row = (await server.store.get<{ id: string; minimum_elements: string }>(
      `SELECT s.id, s.minimum_elements FROM sboms s JOIN releases r ON r.id = s.release_id WHERE r.product_id = ?`,
      [other],
    ))!;
    const report = JSON.parse(row.minimum_elements) as Record<string, unknown>;
    delete report.bsiVersion;
    await server.store.run(`UPDATE sboms SET minimum_elements = ? WHERE id = ?`, [
      JSON.stringify(report),
      row.id,
    ]);
    const legacy = await ii1();
    assert.equal(legacy.status, "partly-met");
    assert.match(legacy.reason, /2\.0\.0 checked against BSI TR-03183-2 v2\.0 only$/);
    assert.match(legacy.evidence[0]!.detail, /upload it again to check it against v2\.1\.0\)$/);
  });
});
