import assert from "node:assert/strict";
import { createReadStream } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { createGunzip } from "node:zlib";
import { extract } from "tar-stream";
import { isSoftwareError } from "../errors.ts";
import { checkMinimumElements } from "./minimum-elements.ts";
import type { SbomDocument } from "./model.ts";
import { parseSbomText, readSbomFile } from "./parse.ts";

const SBOM_DIR = fileURLToPath(new URL("../../../../../test/data/sbom/", import.meta.url));

async function* jsonEntries(archive: string): AsyncGenerator<{ name: string; text: string }> {
  const ex = extract();
  createReadStream(join(SBOM_DIR, archive)).pipe(createGunzip()).pipe(ex);
  for await (const entry of ex) {
    if (entry.header.type !== "file" || !entry.header.name.endsWith(".json")) {
      entry.resume();
      continue;
    }
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    yield { name: entry.header.name, text: Buffer.concat(chunks).toString("utf8") };
  }
}

async function parseAll(archive: string): Promise<Map<string, SbomDocument>> {
  const out = new Map<string, SbomDocument>();
  const failures: string[] = [];
  for await (const { name, text } of jsonEntries(archive)) {
    try {
      out.set(name, parseSbomText(text, { source: name }));
    } catch (e) {
      failures.push(`${name}: ${(e as Error).message}`);
    }
  }
  assert.deepEqual(failures, [], "every real document parses");
  return out;
}

test("every CycloneDX document of the bom-examples set parses and validates (1.2-1.4, SBOM and VEX)", async () => {
  const docs = await parseAll("cyclonedx-bom-examples.tar.gz");
  assert.equal(docs.size, 55);
  const byName = (suffix: string): SbomDocument => [...docs].find(([n]) => n.endsWith(suffix))![1];
  const keycloak = byName("keycloak-10.0.2/bom.json");
  assert.equal(keycloak.specVersion, "1.2");
  assert.equal(keycloak.components.length, 904, "903 components + metadata.component");
  const juice = byName("via_npm/flat/bom.1.4.json");
  assert.equal(juice.format, "cyclonedx");
  assert.ok(juice.components.every((c) => c.ecosystem === "npm" || c.purl === undefined));
  assert.ok(juice.dependencies.length > 1000);
  const bare = byName("via_npm/bare/bom.1.4.json");
  const nested = bare.components.filter((c) => c.parentRef !== undefined);
  assert.equal(nested.length, 278, "nested components are kept, flattened, with a parent reference");
  assert.equal(bare.components.length, 837 + 278 + 1);
  assert.ok(nested.every((c) => bare.components.some((p) => p.ref === c.parentRef)));
  const dropwizard = byName("dropwizard-1.3.15/bom.json");
  const jackson = dropwizard.components.find(
    (c) => c.packageName === "com.fasterxml.jackson.core:jackson-databind",
  );
  assert.equal(jackson?.ecosystem, "Maven");
  assert.ok(jackson?.hashes.some((h) => h.algorithm === "SHA-512"));
  assert.ok((jackson?.licenses.length ?? 0) > 0);
});

test("every SPDX document of the spdx-examples set parses (2.2, 2.3 against the schema; 3.0.1 JSON-LD)", async () => {
  const docs = await parseAll("spdx-examples.tar.gz");
  assert.equal(docs.size, 44);
  const versions = new Set([...docs.values()].map((d) => d.specVersion));
  assert.deepEqual([...versions].sort(), ["2.2", "2.3", "3.0.1"]);
  const v2 = [...docs].find(([n]) => n.endsWith("example11/spdx2.3/sbom.spdx.json"))![1];
  const v3 = [...docs].find(([n]) => n.endsWith("example11/spdx3.0/sbom.spdx3.json"))![1];
  assert.equal(v2.components.length, v3.components.length);
  assert.deepEqual(
    v2.components.map((c) => c.purl).sort(),
    v3.components.map((c) => c.purl).sort(),
    "the 2.3 and 3.0 renderings of one SBOM give the same purls",
  );
});

test("minimum elements are reported per standard as a structured list", () => {
  const doc = parseSbomText(
    JSON.stringify({
      bomFormat: "CycloneDX",
      specVersion: "1.6",
      version: 1,
      metadata: { timestamp: "2024-01-01T00:00:00Z", authors: [{ name: "Alice" }] },
      components: [
        {
          type: "library",
          "bom-ref": "a",
          name: "a",
          version: "1.0.0",
          purl: "pkg:npm/a@1.0.0",
          supplier: { name: "A Inc" },
        },
        { type: "library", "bom-ref": "b", name: "b" },
      ],
      dependencies: [{ ref: "a", dependsOn: ["b"] }],
    }),
  );
  const report = checkMinimumElements(doc);
  assert.equal(report.ntiaConforms, false);
  const ntia = report.gaps
    .filter((g) => g.standard === "NTIA")
    .map((g) => `${g.element}:${g.componentRefs.join(",")}`);
  assert.deepEqual(ntia.sort(), ["other unique identifiers:b", "supplier name:b", "version:b"]);
  const bsi = report.gaps.filter((g) => g.standard === "BSI-TR-03183-2").map((g) => g.element);
  assert.ok(bsi.includes("hash value of the deployable component (SHA-512)"));
  assert.ok(bsi.includes("distribution licences (SPDX identifier or expression)"));
  assert.ok(bsi.includes("creator of the SBOM (e-mail or URL)"), "a name alone is no contact");
  assert.ok(!bsi.includes("timestamp"));
});

test("hostile inputs are refused with clear reasons before or instead of full parsing", async () => {
  const deep = `{"bomFormat":"CycloneDX","specVersion":"1.6","x":${"[".repeat(100_000)}${"]".repeat(100_000)}}`;
  assert.throws(
    () => parseSbomText(deep),
    (e) => isSoftwareError(e, "BW_ERR_SBOM_TOO_DEEP"),
  );
  // Brackets inside strings do not count as nesting.
  const quoted = JSON.stringify({
    bomFormat: "CycloneDX",
    specVersion: "1.6",
    version: 1,
    metadata: { component: { type: "application", name: "[".repeat(1000) } },
  });
  assert.equal(parseSbomText(quoted).components[0]?.name, "[".repeat(1000));
  assert.throws(
    () => parseSbomText("x".repeat(2048), { maxBytes: 1024 }),
    (e) => isSoftwareError(e, "BW_ERR_SBOM_TOO_LARGE"),
  );
  assert.throws(
    () => parseSbomText("{not json"),
    (e) => isSoftwareError(e, "BW_ERR_SBOM_INVALID"),
  );
  assert.throws(
    () => parseSbomText("[1,2]"),
    (e) => isSoftwareError(e, "BW_ERR_SBOM_INVALID"),
  );
  assert.throws(
    () =>
      parseSbomText(
        JSON.stringify({
          bomFormat: "CycloneDX",
          specVersion: "1.6",
          version: 1,
          components: [{ type: "library", name: 42 }],
        }),
      ),
    (e) => isSoftwareError(e, "BW_ERR_SBOM_INVALID") && e.path === "#/components/0/name",
  );
  assert.throws(
    () =>
      parseSbomText(
        JSON.stringify({ bomFormat: "CycloneDX", specVersion: "1.6", version: 1, components: "nope" }),
      ),
    (e) => isSoftwareError(e, "BW_ERR_SBOM_INVALID"),
  );
  assert.throws(
    () => parseSbomText(JSON.stringify({ spdxVersion: "SPDX-2.3", SPDXID: 5 })),
    (e) => isSoftwareError(e, "BW_ERR_SBOM_INVALID"),
  );
  assert.throws(
    () => parseSbomText(JSON.stringify({ bomFormat: "CycloneDX", specVersion: "1.1" })),
    (e) => isSoftwareError(e, "BW_ERR_SBOM_UNSUPPORTED"),
  );
  assert.throws(
    () => parseSbomText("<bom/>"),
    (e) => isSoftwareError(e, "BW_ERR_SBOM_UNSUPPORTED"),
  );
  assert.throws(
    () => parseSbomText(JSON.stringify({ hello: "world" })),
    (e) => isSoftwareError(e, "BW_ERR_SBOM_UNSUPPORTED"),
  );

  const dir = await mkdtemp(join(tmpdir(), "bw-sbom-"));
  try {
    const big = join(dir, "big.json");
    await writeFile(big, " ".repeat(4096));
    await assert.rejects(
      readSbomFile(big, { maxBytes: 1024 }),
      (e) => isSoftwareError(e, "BW_ERR_SBOM_TOO_LARGE") && e.path === big,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
