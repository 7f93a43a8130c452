import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { strToU8, zipSync } from "fflate";
import { isSoftwareError } from "../errors.ts";
import { type BundleLimits, readOsvBundle } from "./bundle.ts";

const OSV_DIR = fileURLToPath(new URL("../../../../../test/data/osv/", import.meta.url));

async function readAll(path: string, limits?: BundleLimits): Promise<{ path: string; id: string }[]> {
  const out: { path: string; id: string }[] = [];
  for await (const r of readOsvBundle(path, limits)) out.push({ path: r.path, id: r.record.id });
  return out;
}

test("the Go vulnerability database bundle (JSON) reads completely", async () => {
  const recs = await readAll(join(OSV_DIR, "go-vulndb-osv.tar.gz"));
  console.log(`go-vulndb-osv.tar.gz: ${recs.length} records`);
  assert.equal(recs.length, 4291, "every GO-*.json entry of the bundle");
  assert.ok(recs.every((r) => r.id.startsWith("GO-") && r.path.endsWith(".json")));
  assert.equal(new Set(recs.map((r) => r.id)).size, recs.length);
});

test("the PyPA advisory database bundle (YAML) reads completely", async () => {
  const recs = await readAll(join(OSV_DIR, "pypa-advisory-db-osv.tar.gz"));
  console.log(`pypa-advisory-db-osv.tar.gz: ${recs.length} records`);
  assert.equal(recs.length, 2661, "every PYSEC-*.yaml entry of the bundle");
  assert.ok(recs.every((r) => r.path.endsWith(".yaml")));
});

const good = (id: string): string => JSON.stringify({ id, modified: "2024-01-01T00:00:00Z", affected: [] });
let dir = "";

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "bw-osv-bundle-"));
  await mkdir(join(dir, "tree", "sub"), { recursive: true });
  await writeFile(join(dir, "tree", "a.json"), good("A-1"));
  await writeFile(join(dir, "tree", "sub", "b.yaml"), "id: B-1\nmodified: '2024-01-01T00:00:00Z'\n");
  await writeFile(join(dir, "tree", "README.md"), "not a record");
  await writeFile(
    join(dir, "ok.zip"),
    zipSync({
      "x/a.json": strToU8(good("A-1")),
      "x/b.yml": strToU8("id: B-2\nmodified: m\n"),
      LICENSE: strToU8("cc"),
    }),
  );
  await writeFile(
    join(dir, "bad.zip"),
    zipSync({ "a.json": strToU8(good("A-1")), "x/broken.json": strToU8('{"id": 3}') }),
  );
  await writeFile(join(dir, "big.zip"), zipSync({ "big.json": strToU8(" ".repeat(5000) + good("BIG")) }));
  await writeFile(join(dir, "junk.zip"), "this is not a zip file at all, not even close");
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("directories and zip files are read, non-record files skipped", async () => {
  assert.deepEqual(await readAll(join(dir, "tree")), [
    { path: "a.json", id: "A-1" },
    { path: "sub/b.yaml", id: "B-1" },
  ]);
  assert.deepEqual(await readAll(join(dir, "ok.zip")), [
    { path: "x/a.json", id: "A-1" },
    { path: "x/b.yml", id: "B-2" },
  ]);
});

test("a bad record raises an error naming the bundle entry", async () => {
  await assert.rejects(
    readAll(join(dir, "bad.zip")),
    (e) => isSoftwareError(e, "BW_ERR_OSV_INVALID") && e.path === `${join(dir, "bad.zip")}!x/broken.json#/id`,
  );
});

test("per-record size and record-count limits are enforced", async () => {
  await assert.rejects(readAll(join(dir, "big.zip"), { maxRecordBytes: 1000 }), (e) =>
    isSoftwareError(e, "BW_ERR_OSV_TOO_LARGE"),
  );
  await assert.rejects(readAll(join(dir, "tree"), { maxRecordBytes: 10 }), (e) =>
    isSoftwareError(e, "BW_ERR_OSV_TOO_LARGE"),
  );
  await assert.rejects(readAll(join(OSV_DIR, "go-vulndb-osv.tar.gz"), { maxRecords: 10 }), (e) =>
    isSoftwareError(e, "BW_ERR_OSV_TOO_MANY"),
  );
  await assert.rejects(readAll(join(dir, "junk.zip")), (e) => isSoftwareError(e, "BW_ERR_BUNDLE_UNREADABLE"));
  await assert.rejects(readAll(join(dir, "missing.tar.gz")), (e) =>
    isSoftwareError(e, "BW_ERR_BUNDLE_UNREADABLE"),
  );
});
