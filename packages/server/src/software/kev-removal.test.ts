import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { it } from "node:test";
import { gunzipSync, gzipSync } from "node:zlib";
import type { BulwarkError } from "@bulwark/sdk/errors";
import {
  count,
  cyclonedx,
  osvDir,
  osvRecord,
  release,
  softwareCounts,
  storeBackends,
} from "../../test/store-fixtures.ts";
import { verifyAuditChain } from "../audit/audit-log.ts";
import { migrate } from "../store/migrate.ts";
import { migrations } from "../store/migrations.ts";
import type { Store } from "../store/store.ts";
import { type Finding, listFindings } from "./findings.ts";
import { SoftwareMonitor } from "./monitor.ts";
import { createWebhook, listWebhooks } from "./webhooks/webhooks.ts";

/**
 * A KEV import is the complete current catalogue: a CVE that CISA removed loses known-exploited on
 * its findings (and their Art. 14 candidate flag), audit-logged and notified, on SQLite and
 * PostgreSQL. Works from the real catalogue (read from the shared test data, never copied).
 */
const KEV = new URL("../../../../test/data/kev/known_exploited_vulnerabilities.json.gz", import.meta.url)
  .pathname;

const system = { type: "system" } as const;
const analyst = { type: "user", id: "analyst" } as const;

/** Real KEV CVEs: removed later (log4shell, spring4shell, Salt 11651) and kept (HTTP/2 reset, Salt 11652). */
const REMOVED = ["CVE-2020-11651", "CVE-2021-44228", "CVE-2022-22965"];

interface KevDoc {
  catalogVersion: string;
  dateReleased: string;
  count: number;
  vulnerabilities: { cveID: string }[];
}

/** The real catalogue without `drop`, as a later release of it (day `day` of August 2025) would list it. */
function laterCatalogue(dir: string, drop: readonly string[], day = 26, dateReleased?: string): string {
  const doc = JSON.parse(gunzipSync(readFileSync(KEV)).toString("utf8")) as KevDoc;
  const vulnerabilities = doc.vulnerabilities.filter((v) => !drop.includes(v.cveID));
  assert.equal(
    vulnerabilities.length,
    doc.vulnerabilities.length - drop.length,
    "all dropped CVEs are listed",
  );
  const path = join(dir, `kev-${day}-without-${drop.length}.json.gz`);
  const later = {
    ...doc,
    catalogVersion: `2025.08.${day}`,
    dateReleased: dateReleased ?? `2025-08-${day}T17:00:00.0000Z`,
    count: vulnerabilities.length,
    vulnerabilities,
  };
  writeFileSync(path, gzipSync(JSON.stringify(later)));
  return path;
}

const deliveries = async (store: Store, type: string) =>
  await store.all<{ payload: string }>(
    `SELECT payload FROM webhook_deliveries WHERE event_type = ? ORDER BY created_at, id`,
    [type],
  );

const audits = async (store: Store, action: string) =>
  (
    await store.all<{ target_id: string | null; details: string }>(
      `SELECT target_id, details FROM audit_log WHERE action = ? ORDER BY seq`,
      [action],
    )
  ).map((r) => ({ target: r.target_id, details: JSON.parse(r.details) as Record<string, unknown> }));

for (const backend of storeBackends)
  it(`KEV removals on ${backend.name}: findings lose known-exploited and the Art. 14 flag, audit-logged and notified`, async (ctx) => {
    const t = await backend.open(ctx);
    if (!t) return;
    try {
      const monitor = new SoftwareMonitor(t.store);
      await monitor.importAdvisories(
        osvDir(t.dir, [
          osvRecord({
            id: "GHSA-kev0-0000-0001",
            aliases: ["CVE-2021-44228"],
            name: "log4js",
            fixed: "2.0.0",
          }),
          osvRecord({ id: "GHSA-kev0-0000-0002", aliases: ["CVE-2022-22965"], name: "qs", fixed: "6.10.3" }),
          osvRecord({
            id: "GHSA-kev0-0000-0003",
            aliases: ["CVE-2023-44487"],
            name: "express",
            fixed: "5.0.0",
          }),
          // Two CVEs for one vulnerability: only one of them leaves the catalogue.
          osvRecord({
            id: "GHSA-kev0-0000-0004",
            aliases: ["CVE-2020-11651", "CVE-2020-11652"],
            name: "salt",
            fixed: "3000.2.0",
          }),
        ]),
        system,
      );
      const r1 = (await release(t.store, "gw", "1.0")).id;
      const r2 = (await release(t.store, "gw", "1.1")).id;
      const sbom = cyclonedx(["log4js@1.0.0", "qs@6.10.1", "express@4.0.0", "salt@3000.1.0"]);
      await monitor.attachSbom(r1, sbom, analyst);
      await monitor.attachSbom(r2, sbom, analyst);
      await t.store.transaction((tx) =>
        createWebhook(tx, randomBytes(32), { url: "https://hooks.example/k" }),
      );
      const all = async (): Promise<Map<string, Finding[]>> => {
        const byVuln = new Map<string, Finding[]>();
        for (const f of (await listFindings(t.store, { limit: 100, offset: 0 })).items)
          byVuln.set(f.vulnerability, [...(byVuln.get(f.vulnerability) ?? []), f]);
        return byVuln;
      };

      const full = await monitor.importKev(KEV, system);
      assert.equal(full.removed, 0);
      assert.equal(
        (await listFindings(t.store, { article14Candidate: true, limit: 100, offset: 0 })).total,
        8,
      );
      const flagged = (await deliveries(t.store, "finding.known-exploited")).length;
      assert.equal(flagged, 8, "every finding became known-exploited");

      await ctx.test("a CVE missing from a later full catalogue is removed from its findings", async () => {
        const summary = await monitor.importKev(laterCatalogue(t.dir, REMOVED), system);
        assert.equal(summary.added, 0);
        assert.equal(summary.removed, 3);
        assert.equal(summary.entries, full.entries - 3);
        assert.equal(summary.rematch.updated, 4, "log4js and qs in both releases");
        assert.equal(summary.rematch.unexploited, 4);
        assert.equal(await count(t.store, "known_exploited"), full.entries - 3);
        const byVuln = await all();
        for (const vuln of ["CVE-2021-44228", "CVE-2022-22965"])
          for (const f of byVuln.get(vuln)!) {
            assert.equal(f.knownExploited, false, vuln);
            assert.equal(f.article14Candidate, false, vuln);
            assert.equal(f.status, "open", "the finding itself stays open: only the flag changes");
          }
        for (const vuln of ["CVE-2023-44487", "CVE-2020-11651"])
          for (const f of byVuln.get(vuln)!) {
            assert.equal(f.knownExploited, true, `${vuln} is still listed (or an alias of it is)`);
            assert.equal(f.article14Candidate, true, vuln);
          }
        const candidates = await listFindings(t.store, { article14Candidate: true, limit: 100, offset: 0 });
        assert.equal(candidates.total, 4);
      });

      await ctx.test("each finding that lost the flag is audit-logged and notified", async () => {
        const entry = (await audits(t.store, "kev.import")).at(-1)!.details;
        assert.equal(entry.removed, 3);
        assert.deepEqual(entry.removedCves, REMOVED);
        const unflagged = await audits(t.store, "finding.known-exploited-removed");
        assert.equal(unflagged.length, 4);
        const lost = new Set(
          [...(await all()).get("CVE-2021-44228")!, ...(await all()).get("CVE-2022-22965")!].map((f) => f.id),
        );
        assert.deepEqual(new Set(unflagged.map((a) => a.target)), lost);
        for (const a of unflagged) {
          assert.equal(a.details.article14CandidateBefore, true);
          assert.equal(a.details.source, "kev:2025.08.26");
          assert.ok(["CVE-2021-44228", "CVE-2022-22965"].includes(a.details.vulnerability as string));
        }
        const removed = await deliveries(t.store, "finding.known-exploited-removed");
        assert.equal(removed.length, 4);
        for (const d of removed) {
          const body = JSON.parse(d.payload) as { type: string; data: Finding };
          assert.equal(body.type, "finding.known-exploited-removed");
          assert.ok(lost.has(body.data.id));
          assert.equal(body.data.knownExploited, false);
          assert.equal(body.data.article14Candidate, false);
        }
        // What an Art. 14 report clock would start from stays: the earlier notifications are untouched.
        assert.equal((await deliveries(t.store, "finding.known-exploited")).length, flagged);
        assert.equal((await verifyAuditChain(t.store)).problem, undefined);
      });

      await ctx.test("importing the same catalogue again changes nothing", async () => {
        const again = await monitor.importKev(laterCatalogue(t.dir, REMOVED), system);
        assert.equal(again.removed, 0);
        assert.equal(again.rematch.unexploited, 0);
        assert.equal((await deliveries(t.store, "finding.known-exploited-removed")).length, 4);
        assert.equal((await audits(t.store, "finding.known-exploited-removed")).length, 4);
      });

      await ctx.test(
        "an older catalogue is refused (it would drop every later entry) and changes nothing",
        async () => {
          const before = await softwareCounts(t.store);
          await assert.rejects(monitor.importKev(KEV, system), (e: BulwarkError) => {
            assert.equal(e.code, "BW_ERR_KEV_STALE");
            assert.match(e.message, /2025\.08\.25 .* is older than 2025\.08\.26/);
            return true;
          });
          await assert.rejects(
            monitor.importKev(laterCatalogue(t.dir, [], 27, "someday"), system),
            (e: BulwarkError) => e.code === "BW_ERR_KEV_INVALID" && /dateReleased/.test(e.message),
          );
          assert.deepEqual(await softwareCounts(t.store), before);
          const candidates = await listFindings(t.store, { article14Candidate: true, limit: 100, offset: 0 });
          assert.equal(candidates.total, 4);
        },
      );

      await ctx.test("a CVE listed again flags its findings again", async () => {
        const back = await monitor.importKev(laterCatalogue(t.dir, [], 27), system);
        assert.equal(back.added, 3);
        assert.equal(back.removed, 0);
        assert.equal(
          (await listFindings(t.store, { article14Candidate: true, limit: 100, offset: 0 })).total,
          8,
        );
        assert.equal((await deliveries(t.store, "finding.known-exploited")).length, flagged + 4);
      });
    } finally {
      await t.close();
    }
  });

for (const backend of storeBackends)
  it(`migration 820 on ${backend.name}: webhooks told of known-exploited are told of its removal too`, async (ctx) => {
    const t = await backend.open(ctx, 800);
    if (!t) return;
    try {
      const hook = async (id: string, events: readonly string[]) =>
        t.store.run(
          `INSERT INTO webhooks (id, url, secret_sealed, events, active, created_at) VALUES (?, ?, 'x', ?, 1, 1)`,
          [id, `https://hooks.example/${id}`, JSON.stringify(events)],
        );
      await hook("all", ["finding.new", "finding.known-exploited"]);
      await hook("kev", ["finding.known-exploited"]);
      await hook("new", ["finding.new"]);
      await migrate(t.store, migrations);
      const events = Object.fromEntries((await listWebhooks(t.store)).map((h) => [h.id, h.events]));
      assert.deepEqual(events, {
        all: ["finding.new", "finding.known-exploited", "finding.known-exploited-removed"],
        kev: ["finding.known-exploited", "finding.known-exploited-removed"],
        new: ["finding.new"],
      });
    } finally {
      await t.close();
    }
  });
