import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BulwarkError } from "@bulwark/sdk/errors";
import { count, osvDir, osvRecord, softwareCounts, tempStore } from "../../test/store-fixtures.ts";
import type { Store } from "../store/store.ts";
import { SoftwareMonitor } from "./monitor.ts";

const OSV = new URL("../../../../test/data/osv/", import.meta.url).pathname;
const system = { type: "system" } as const;

describe("advisory import: the real Go vulndb and PyPA data", () => {
  let t: Awaited<ReturnType<typeof tempStore>>;
  let monitor: SoftwareMonitor;
  before(async () => {
    t = await tempStore();
    monitor = new SoftwareMonitor(t.store);
  });
  after(() => t.close());

  it("imports every record of both bundles (tar.gz, JSON and YAML)", async () => {
    const go = await monitor.importAdvisories(join(OSV, "go-vulndb-osv.tar.gz"), system);
    assert.equal(go.records, 4291);
    assert.equal(go.inserted, 4291);
    assert.deepEqual(go.unevaluable, { count: 0, records: [] }, "every real Go record can be evaluated");
    const pypa = await monitor.importAdvisories(join(OSV, "pypa-advisory-db-osv.tar.gz"), system);
    assert.equal(pypa.records, 2661);
    assert.equal(pypa.inserted, 2661);
    assert.equal(await count(t.store, "vulnerabilities"), 4291 + 2661);
    const withdrawn = await t.store.get<{ n: number }>(
      `SELECT COUNT(*) AS n FROM vulnerabilities WHERE withdrawn IS NOT NULL`,
    );
    assert.equal(Number(withdrawn?.n), go.withdrawn + pypa.withdrawn);
    assert.ok(go.withdrawn > 0);
  });

  it("re-importing is idempotent: nothing changes but one audit entry", async () => {
    const before = await softwareCounts(t.store);
    const again = await monitor.importAdvisories(join(OSV, "go-vulndb-osv.tar.gz"), system);
    assert.equal(again.unchanged, 4291);
    assert.equal(again.inserted + again.updated, 0);
    assert.deepEqual(await softwareCounts(t.store), { ...before, audit_log: (before.audit_log ?? 0) + 1 });
  });

  it("merges aliases: records sharing a CVE get one canonical id", async () => {
    const rows = await t.store.all<{ canonical_id: string; n: number }>(
      `SELECT canonical_id, COUNT(*) AS n FROM vulnerabilities GROUP BY canonical_id HAVING COUNT(*) > 1 LIMIT 5`,
    );
    assert.ok(rows.length > 0, "Go and PyPA share some CVEs");
    for (const r of rows) assert.match(r.canonical_id, /^CVE-/);
  });
});

describe("advisory import: transactional, upsert by modified, withdrawn", () => {
  let t: Awaited<ReturnType<typeof tempStore>>;
  let store: Store;
  let monitor: SoftwareMonitor;
  before(async () => {
    t = await tempStore();
    store = t.store;
    monitor = new SoftwareMonitor(store);
  });
  after(() => t.close());

  it("a bad record fails the whole import with its path and changes nothing", async () => {
    const dir = osvDir(t.dir, [
      osvRecord({ id: "GHSA-aaaa-bbbb-cccc", name: "left-pad", fixed: "1.3.0" }),
      osvRecord({ id: "GHSA-dddd-eeee-ffff", name: "right-pad", fixed: "2.0.0" }),
    ]);
    writeFileSync(join(dir, "zz-broken.json"), JSON.stringify({ id: "BROKEN-1", affected: "nope" }));
    const counts = await softwareCounts(store);
    await assert.rejects(monitor.importAdvisories(dir, system), (e: unknown) => {
      assert.ok(e instanceof BulwarkError);
      assert.equal(e.code, "BW_ERR_OSV_INVALID");
      assert.match(e.detail ?? "", /zz-broken\.json/);
      return true;
    });
    assert.deepEqual(await softwareCounts(store), counts);
  });

  it("upserts by id and modified: an older modified never overwrites a newer one", async () => {
    const newer = osvRecord({
      id: "GHSA-1111-2222-3333",
      name: "lodash",
      fixed: "4.17.21",
      modified: "2024-06-01T00:00:00Z",
    });
    const older = osvRecord({
      id: "GHSA-1111-2222-3333",
      name: "lodash",
      fixed: "4.17.99",
      modified: "2024-01-01T00:00:00Z",
    });
    const first = await monitor.importAdvisories(osvDir(t.dir, [newer]), system);
    assert.equal(first.inserted, 1);
    const second = await monitor.importAdvisories(osvDir(t.dir, [older]), system);
    assert.equal(second.unchanged, 1);
    const row = await store.get<{ modified: string; record: string }>(
      `SELECT modified, record FROM vulnerabilities WHERE id = ?`,
      ["GHSA-1111-2222-3333"],
    );
    assert.equal(row?.modified, "2024-06-01T00:00:00Z");
    assert.match(row?.record ?? "", /4\.17\.21/);
    const newest = osvRecord({
      id: "GHSA-1111-2222-3333",
      name: "lodash",
      fixed: "4.17.30",
      modified: "2024-09-01T00:00:00Z",
    });
    const third = await monitor.importAdvisories(osvDir(t.dir, [newest]), system);
    assert.equal(third.updated, 1);
  });

  it("counts and names the records whose versions do not parse, which matching would skip (issue #14)", async () => {
    const good = osvRecord({ id: "GHSA-good-0000-0001", name: "left-pad", fixed: "1.3.0" });
    const bad = {
      ...osvRecord({ id: "DEB-BAD-0001", name: "openssl", fixed: "3.0.13-1" }),
      affected: [
        {
          package: { ecosystem: "Debian:12", name: "openssl" },
          ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "x:3.0.13-1" }] }],
        },
      ],
    };
    const summary = await monitor.importAdvisories(osvDir(t.dir, [good, bad]), system);
    assert.equal(summary.inserted, 2, "both are stored (a later fix of the record replaces it)");
    assert.equal(summary.unevaluable.count, 1);
    assert.equal(summary.unevaluable.records[0]?.id, "DEB-BAD-0001");
    assert.match(summary.unevaluable.records[0]?.reason ?? "", /invalid for Debian:12/);
    const audit = await store.get<{ details: string }>(
      `SELECT details FROM audit_log WHERE action = 'vulnerabilities.import' ORDER BY seq DESC LIMIT 1`,
    );
    assert.equal(JSON.parse(audit?.details ?? "{}").unevaluable, 1);
  });

  it("refuses a bundle that is not an OSV source with a clear error", async () => {
    const file = join(t.dir, "notes.txt");
    writeFileSync(file, "hello");
    await assert.rejects(monitor.importAdvisories(file, system), { code: "BW_ERR_BUNDLE_UNREADABLE" });
  });
});
