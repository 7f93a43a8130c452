import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { it } from "node:test";
import {
  count,
  cyclonedx,
  minimistAdvisory,
  osvDir,
  osvRecord,
  release,
  storeBackends,
} from "../../test/store-fixtures.ts";
import { releaseById } from "../products/products.ts";
import type { Store } from "../store/store.ts";
import { findingById, listFindings, releaseFindings, setTriage } from "./findings.ts";
import { parseFindingId } from "./ids.ts";
import { SoftwareMonitor } from "./monitor.ts";
import { cycloneDxVex } from "./vex.ts";
import { createWebhook } from "./webhooks/webhooks.ts";

/**
 * Findings by match: one match (purl × vulnerability) stored once, its findings written for every
 * release holding the purl by SQL range statements. The same scenario runs on SQLite and PostgreSQL.
 */
const system = { type: "system" } as const;
const analyst = { type: "user", id: "analyst" } as const;

const minimist = minimistAdvisory;

const deliveries = async (store: Store, type: string) =>
  Number(
    (
      await store.get<{ n: number }>(`SELECT COUNT(*) AS n FROM webhook_deliveries WHERE event_type = ?`, [
        type,
      ])
    )?.n ?? 0,
  );

for (const backend of storeBackends)
  it(`findings by match on ${backend.name}: fan-out, later SBOMs, resolve and reopen`, async (ctx) => {
    const t = await backend.open(ctx);
    if (!t) return;
    try {
      const monitor = new SoftwareMonitor(t.store);
      // gw 1.0 and 1.1 share minimist 1.2.5; cam 1.0 has it too; gw 1.2 has only the fixed version.
      const gw10 = (await release(t.store, "gw", "1.0")).id;
      const gw11 = (await release(t.store, "gw", "1.1")).id;
      const cam10 = (await release(t.store, "cam", "1.0")).id;
      const gw12 = (await release(t.store, "gw", "1.2")).id;
      await monitor.attachSbom(gw10, cyclonedx(["minimist@1.2.5", "qs@6.10.1"]), analyst);
      await monitor.attachSbom(gw11, cyclonedx(["minimist@1.2.5", "qs@6.10.2"]), analyst);
      await monitor.attachSbom(cam10, cyclonedx(["minimist@1.2.5"]), analyst);
      await monitor.attachSbom(gw12, cyclonedx(["minimist@1.2.6"]), analyst);
      await t.store.transaction((tx) =>
        createWebhook(tx, randomBytes(32), { url: "https://hooks.example/x" }),
      );

      await ctx.test("a new match fans out to every release holding the purl, one finding each", async () => {
        const summary = await monitor.importAdvisories(
          osvDir(t.dir, [minimist("2024-01-01T00:00:00Z")]),
          system,
        );
        assert.equal(summary.rematch.components, 4, "four release components of minimist");
        assert.equal(summary.rematch.created, 3);
        assert.equal(await count(t.store, "finding_matches"), 1, "one match, stored once");
        assert.equal(await deliveries(t.store, "finding.new"), 3, "a webhook event per new finding");
        for (const r of [gw10, gw11, cam10]) {
          const [f] = await releaseFindings(t.store, r);
          assert.ok(f);
          assert.equal(f.releaseId, r);
          assert.equal(f.vulnerability, "CVE-2024-1001");
          assert.deepEqual(f.component, {
            name: "minimist",
            version: "1.2.5",
            purl: "pkg:npm/minimist@1.2.5",
          });
          assert.deepEqual(f.fixedVersions, ["1.2.6"]);
          assert.equal(f.status, "open");
          assert.ok(parseFindingId(f.id), "a composed (version 8) id");
          assert.deepEqual(await findingById(t.store, f.id), f);
        }
        assert.deepEqual(await releaseFindings(t.store, gw12), []);
        const ids = (await listFindings(t.store, { limit: 10, offset: 0 })).items.map((f) => f.id);
        assert.equal(new Set(ids).size, 3, "ids are unique");
        assert.equal(await findingById(t.store, "0190a1b2-c3d4-8e5f-8a1b-0123456789ab"), undefined);
      });

      await ctx.test(
        "an SBOM attached later gets its finding, triage carried over within the product only",
        async () => {
          const [decided] = await releaseFindings(t.store, gw10);
          await t.store.transaction((tx) =>
            setTriage(
              tx,
              decided!.id,
              { state: "affected", actionStatement: "update to 1.2.6" },
              analyst,
              "manual",
            ),
          );
          const gw13 = (await release(t.store, "gw", "1.3")).id;
          const cam11 = (await release(t.store, "cam", "1.1")).id;
          const same = await monitor.attachSbom(gw13, cyclonedx(["minimist@1.2.5"]), analyst);
          assert.equal(same.rematch.created, 1);
          assert.equal(same.rematch.carriedOver, 1);
          const [carried] = await releaseFindings(t.store, gw13);
          assert.deepEqual(carried!.triage, { state: "affected", actionStatement: "update to 1.2.6" });
          assert.equal(carried!.triageSource, `carried-over:${decided!.id}`);
          const other = await monitor.attachSbom(cam11, cyclonedx(["minimist@1.2.5"]), analyst);
          assert.equal(other.rematch.created, 1);
          assert.equal(other.rematch.carriedOver, 0, "another product's decision is not carried over");
          assert.deepEqual((await releaseFindings(t.store, cam11))[0]!.triage, {
            state: "under_investigation",
          });
          assert.equal(await count(t.store, "finding_matches"), 1, "the stored match is reused");
          assert.equal(await deliveries(t.store, "finding.new"), 5);
        },
      );

      await ctx.test("withdrawal resolves every release's finding; re-publishing reopens them", async () => {
        const withdrawn = await monitor.importAdvisories(
          osvDir(t.dir, [minimist("2024-02-01T00:00:00Z", "2024-02-01T00:00:00Z")]),
          system,
        );
        assert.equal(withdrawn.rematch.resolved, 5);
        const resolved = await listFindings(t.store, { status: "resolved", limit: 10, offset: 0 });
        assert.equal(resolved.total, 5);
        assert.ok(resolved.items.every((f) => f.resolution === "withdrawn" && f.resolvedAt !== null));
        // A release that gets the component while nothing matches it gets no finding.
        const gw14 = (await release(t.store, "gw", "1.4")).id;
        assert.equal(
          (await monitor.attachSbom(gw14, cyclonedx(["minimist@1.2.5"]), analyst)).rematch.created,
          0,
        );
        const republished = await monitor.importAdvisories(
          osvDir(t.dir, [minimist("2024-03-01T00:00:00Z")]),
          system,
        );
        assert.equal(republished.rematch.reopened, 5);
        assert.equal(republished.rematch.created, 1, "gw 1.4's finding is new");
        assert.equal(republished.rematch.updated, 0);
        assert.equal((await listFindings(t.store, { status: "open", limit: 10, offset: 0 })).total, 6);
        const [reopened] = await releaseFindings(t.store, gw10);
        assert.equal(reopened!.resolution, null);
        assert.equal(reopened!.triage.state, "affected", "triage survives resolve and reopen");
        assert.equal(await deliveries(t.store, "finding.new"), 11, "reopened and new findings notify");
        const rel = (await releaseById(t.store, gw10))!;
        assert.equal(cycloneDxVex(rel, await releaseFindings(t.store, gw10)).vulnerabilities.length, 1);
      });

      await ctx.test("a changed advisory updates every finding of its match", async () => {
        const changed = await monitor.importAdvisories(
          osvDir(t.dir, [
            osvRecord({
              id: "GHSA-mmmm-0000-0001",
              aliases: ["CVE-2024-1001"],
              name: "minimist",
              fixed: "1.2.6",
              modified: "2024-04-01T00:00:00Z",
              cvss: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            }),
          ]),
          system,
        );
        assert.equal(changed.rematch.updated, 6, "the new severity reaches each release's finding");
        assert.ok(
          (await listFindings(t.store, { limit: 10, offset: 0 })).items.every(
            (f) => f.severity === "critical",
          ),
        );
      });
    } finally {
      await t.close();
    }
  });

for (const backend of storeBackends)
  it(`an import changing more vulnerabilities than are filtered in SQL on ${backend.name}`, async (ctx) => {
    const t = await backend.open(ctx);
    if (!t) return;
    try {
      const monitor = new SoftwareMonitor(t.store);
      // 450 advisories, one package each; the release holds two of the packages.
      const records = (modified: string, fixedBulk1: string) =>
        Array.from({ length: 450 }, (_, i) =>
          osvRecord({
            id: `GHSA-bulk-0000-${String(i).padStart(4, "0")}`,
            name: `bulk-${i}`,
            fixed: i === 1 ? fixedBulk1 : "2.0.0",
            modified,
          }),
        );
      const r = (await release(t.store, "bulk", "1.0")).id;
      await monitor.attachSbom(r, cyclonedx(["bulk-0@1.0.0", "bulk-1@1.0.0", "other@1.0.0"]), analyst);
      const first = await monitor.importAdvisories(
        osvDir(t.dir, records("2024-01-01T00:00:00Z", "2.0.0")),
        system,
      );
      assert.equal(first.rematch.created, 2);
      // All 450 re-published; bulk-1's advisory now says 1.0.0 is fixed.
      const again = await monitor.importAdvisories(
        osvDir(t.dir, records("2024-02-01T00:00:00Z", "1.0.0")),
        system,
      );
      assert.equal(again.updated, 450);
      assert.deepEqual(
        { created: again.rematch.created, updated: again.rematch.updated, resolved: again.rematch.resolved },
        { created: 0, updated: 0, resolved: 1 },
      );
      const open = await listFindings(t.store, { releaseId: r, status: "open", limit: 10, offset: 0 });
      assert.deepEqual(
        open.items.map((f) => f.component.name),
        ["bulk-0"],
      );
    } finally {
      await t.close();
    }
  });
