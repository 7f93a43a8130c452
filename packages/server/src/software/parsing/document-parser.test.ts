import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { isSoftwareError } from "@bulwark/sdk/software/errors";
import { inlineParser, WorkerParser } from "./document-parser.ts";

const TESTDATA = new URL("../../../../../test/data/", import.meta.url).pathname;
const GO = join(TESTDATA, "osv/go-vulndb-osv.tar.gz");
const KEV = join(TESTDATA, "kev/known_exploited_vulnerabilities.json.gz");

const sbom = (n: number) =>
  JSON.stringify({
    bomFormat: "CycloneDX",
    specVersion: "1.6",
    version: 1,
    components: Array.from({ length: n }, (_, i) => ({
      type: "library",
      name: `p${i}`,
      version: "1.0.0",
      purl: `pkg:npm/p${i}@1.0.0`,
    })),
  });

describe("the document parser on worker threads gives what parsing in place gives", () => {
  const parser = new WorkerParser();
  const dir = mkdtempSync(join(tmpdir(), "bulwark-parser-"));
  after(async () => {
    await parser.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("parses an SBOM with its minimum-elements report", async () => {
    const task = { kind: "sbom", text: sbom(3), source: "sbom", limits: {} } as const;
    const there = await parser.parse(task);
    assert.deepEqual(there, await inlineParser.parse(task));
    assert.equal(there.document.components.length, 3);
    assert.equal(typeof there.minimumElements.ntiaConforms, "boolean");
  });

  it("engine errors cross the thread with their code and path", async () => {
    await assert.rejects(
      parser.parse({ kind: "sbom", text: sbom(5), source: "sbom", limits: { maxComponents: 4 } }),
      (e) => isSoftwareError(e, "BW_ERR_SBOM_TOO_LARGE") && e.path === "sbom",
    );
    await assert.rejects(parser.parse({ kind: "kev", path: join(dir, "missing.json") }), (e) =>
      isSoftwareError(e, "BW_ERR_KEV_INVALID"),
    );
  });

  it("reads the KEV catalogue and an OSV bundle in batches, as in place", async () => {
    const kev = await parser.parse({ kind: "kev", path: KEV });
    assert.ok(kev.entries instanceof Map);
    assert.equal(kev.entries.size, 1404);
    let there = 0;
    let batches = 0;
    for await (const b of parser.osvBatches(GO)) {
      there += b.records.length;
      batches++;
    }
    let here = 0;
    for await (const b of inlineParser.osvBatches(GO)) here += b.records.length;
    assert.equal(there, 4291);
    assert.equal(there, here);
    assert.equal(batches, Math.ceil(4291 / 400));
  });

  it("a bad record in a bundle fails the reading with the engine's error", async () => {
    const osv = mkdtempSync(join(dir, "osv-"));
    writeFileSync(join(osv, "a.json"), JSON.stringify({ id: "BROKEN-1", modified: "x", affected: "nope" }));
    await assert.rejects(
      (async () => {
        for await (const _ of parser.osvBatches(osv)) {
        }
      })(),
      (e) => isSoftwareError(e, "BW_ERR_OSV_INVALID"),
    );
  });
});

describe("a document that needs more memory than a worker may use costs the worker, not the process", () => {
  it("refuses the SBOM with a clear error, and the next one parses", async () => {
    const tiny = new WorkerParser({ heapMb: 16 });
    try {
      await assert.rejects(
        tiny.parse({ kind: "sbom", text: sbom(40_000), source: "sbom", limits: {} }),
        (e) =>
          isSoftwareError(e, "BW_ERR_SBOM_TOO_LARGE") &&
          /could not be parsed within the limits/.test(e.message),
      );
      const next = await tiny.parse({ kind: "sbom", text: sbom(2), source: "sbom", limits: {} });
      assert.equal(next.document.components.length, 2);
    } finally {
      await tiny.close();
    }
  });
});
