import assert from "node:assert/strict";
import { it } from "node:test";
import { parseOsvText } from "@bulwark/sdk/software/osv/parse";
import {
  count,
  cyclonedx,
  minimistAdvisory,
  osvDir,
  osvRecord,
  release,
  storeBackends,
} from "../../test/store-fixtures.ts";
import { createProduct, createRelease } from "../products/products.ts";
import { migrate } from "../store/migrate.ts";
import { migrations } from "../store/migrations.ts";
import type { Queryable } from "../store/store.ts";
import { upsertAdvisories } from "./advisories.ts";
import { findingById, listFindings, releaseFindings, setTriage } from "./findings.ts";
import { parseFindingId } from "./ids.ts";
import { SoftwareMonitor } from "./monitor.ts";

/**
 * Migration 602 (findings by match) on a database holding findings in the 601 layout: every
 * finding keeps its id, values, status and triage, and the re-match carries on from them.
 */
const system = { type: "system" } as const;
const analyst = { type: "user", id: "analyst" } as const;

const advisory = (modified: string) => minimistAdvisory(modified);

/** An SBOM and its components as migration 601 stored them. */
async function legacySbom(tx: Queryable, releaseId: string, id: string, purls: readonly string[]) {
  await tx.run(
    `INSERT INTO sboms (id, release_id, format, spec_version, sha256, components, minimum_elements, ntia_conforms,
      bsi_conforms, created_at) VALUES (?, ?, 'cyclonedx', '1.6', 'x', ?, '{}', 1, 1, 1)`,
    [id, releaseId, purls.length],
  );
  for (const purl of purls) {
    const [name, version] = purl.slice("pkg:npm/".length).split("@") as [string, string];
    await tx.run(
      `INSERT INTO sbom_components (sbom_id, release_id, ref, name, version, purl, ecosystem, package_name,
        package_key) VALUES (?, ?, ?, ?, ?, ?, 'npm', ?, ?)`,
      [id, releaseId, purl, name, version, purl, name, `npm:${name}`],
    );
  }
}

const LEGACY_COLUMNS = `id, release_id, vuln_id, purl, package_key, component_name, component_version, advisory_ids,
  summary, severity, score_tenths, fixed_versions, known_exploited, article14_candidate, status, resolution,
  triage_state, triage, triage_source, triaged_at, created_at, updated_at, resolved_at`;

for (const backend of storeBackends)
  it(`migration 602 on ${backend.name} keeps every finding's id, values and triage`, async (ctx) => {
    const t = await backend.open(ctx, 601);
    if (!t) return;
    try {
      const ids = {
        triaged: "0190a1b2-c3d4-7e5f-8a1b-0123456789ab",
        shared: "6f1c2d3e-4b5a-4c6d-9e8f-0a1b2c3d4e5f",
      };
      const resolvedId = "0190a1b2-c3d4-7e5f-8a1b-0123456789ac";
      const { gw10, gw11 } = await t.store.transaction(async (tx) => {
        await upsertAdvisories(
          tx,
          [parseOsvText(JSON.stringify(advisory("2024-01-01T00:00:00Z")), "json")],
          new Map(),
        );
        const gw = await createProduct(tx, "gw");
        const gw10 = (await createRelease(tx, gw.id, "1.0", "feature")).id;
        const gw11 = (await createRelease(tx, gw.id, "1.1", "feature")).id;
        await legacySbom(tx, gw10, "00000000-0000-4000-8000-000000000001", [
          "pkg:npm/minimist@1.2.5",
          "pkg:npm/qs@6.10.1",
        ]);
        await legacySbom(tx, gw11, "00000000-0000-4000-8000-000000000002", ["pkg:npm/minimist@1.2.5"]);
        const row = (id: string, releaseId: string, extra: Record<string, unknown>) => ({
          id,
          release_id: releaseId,
          vuln_id: "CVE-2024-1001",
          purl: "pkg:npm/minimist@1.2.5",
          package_key: "npm:minimist",
          component_name: "minimist",
          component_version: "1.2.5",
          advisory_ids: JSON.stringify(["GHSA-mmmm-0000-0001"]),
          summary: "GHSA-mmmm-0000-0001 in minimist",
          severity: "unknown",
          score_tenths: null,
          fixed_versions: JSON.stringify(["1.2.6"]),
          known_exploited: 0,
          article14_candidate: 0,
          status: "open",
          resolution: null,
          triage_state: "under_investigation",
          triage: null,
          triage_source: null,
          triaged_at: null,
          created_at: 1_700_000_000_000,
          updated_at: 1_700_000_000_000,
          resolved_at: null,
          ...extra,
        });
        const rows = [
          row(ids.triaged, gw10, {
            triage_state: "not_affected",
            triage: JSON.stringify({ state: "not_affected", justification: "component_not_present" }),
            triage_source: "manual",
            triaged_at: 1_700_000_000_500,
            updated_at: 1_700_000_000_500,
          }),
          row(ids.shared, gw11, {}),
          // A vulnerability no stored advisory backs any more: resolved.
          row(resolvedId, gw10, {
            vuln_id: "CVE-2023-9999",
            purl: "pkg:npm/qs@6.10.1",
            package_key: "npm:qs",
            component_name: "qs",
            component_version: "6.10.1",
            advisory_ids: JSON.stringify(["GHSA-qqqq-0000-0009"]),
            severity: "high",
            score_tenths: 75,
            fixed_versions: "[]",
            status: "resolved",
            resolution: "no-longer-affected",
            resolved_at: 1_700_000_000_900,
          }),
        ];
        for (const r of rows)
          await tx.run(
            `INSERT INTO findings (${LEGACY_COLUMNS}) VALUES (${Object.keys(r)
              .map(() => "?")
              .join(", ")})`,
            Object.values(r) as (string | number | null)[],
          );
        return { gw10, gw11 };
      });

      // Exactly migration 602 on top of the 601 layout (later migrations are other domains').
      assert.deepEqual(
        await migrate(
          t.store,
          migrations.filter((m) => m.id <= 602),
        ),
        [602],
      );
      // The later ones too, as at start-up: the monitor flows below take the lock row of 800.
      await migrate(t.store, migrations);
      assert.equal(await count(t.store, "findings"), 3);
      assert.equal(await count(t.store, "finding_matches"), 2, "two (purl, vulnerability) matches");

      const triaged = await findingById(t.store, ids.triaged);
      assert.ok(triaged);
      assert.equal(triaged.id, ids.triaged);
      assert.equal(triaged.releaseId, gw10);
      assert.deepEqual(triaged.component, {
        name: "minimist",
        version: "1.2.5",
        purl: "pkg:npm/minimist@1.2.5",
      });
      assert.deepEqual(triaged.triage, { state: "not_affected", justification: "component_not_present" });
      assert.equal(triaged.createdAt, 1_700_000_000_000);
      assert.equal(triaged.triagedAt, 1_700_000_000_500);
      const resolved = await findingById(t.store, resolvedId);
      assert.equal(resolved?.status, "resolved");
      assert.equal(resolved?.score, 7.5);
      assert.deepEqual(
        (await releaseFindings(t.store, gw10)).map((f) => f.id),
        [resolvedId, ids.triaged],
      );
      assert.equal((await listFindings(t.store, { status: "open", limit: 10, offset: 0 })).total, 2);

      // The same content re-published: the migrated values are recognised, nothing changes.
      const monitor = new SoftwareMonitor(t.store);
      const again = await monitor.importAdvisories(osvDir(t.dir, [advisory("2024-02-01T00:00:00Z")]), system);
      assert.deepEqual(
        { created: again.rematch.created, updated: again.rematch.updated, resolved: again.rematch.resolved },
        { created: 0, updated: 0, resolved: 0 },
      );

      // Triage by the stored id still works; a later release carries it over from that id.
      await t.store.transaction((tx) =>
        setTriage(tx, ids.shared, { state: "fixed" }, analyst, "manual", 1_700_000_001_000),
      );
      const shared = await findingById(t.store, ids.shared);
      assert.equal(shared?.releaseId, gw11);
      assert.deepEqual(shared?.triage, { state: "fixed" });
      const gw12 = (await release(t.store, "gw", "1.2")).id;
      const later = await monitor.attachSbom(gw12, cyclonedx(["minimist@1.2.5"]), analyst);
      assert.equal(later.rematch.carriedOver, 1);
      const [carried] = await releaseFindings(t.store, gw12);
      assert.equal(carried?.triageSource, `carried-over:${ids.shared}`, "the latest decision in the product");
      assert.ok(carried && parseFindingId(carried.id), "a new finding has a composed id");

      // A new finding of a migrated release: its id prefix comes from the release id.
      const qs = await monitor.importAdvisories(
        osvDir(t.dir, [osvRecord({ id: "GHSA-qqqq-0000-0002", name: "qs", fixed: "6.10.3" })]),
        system,
      );
      assert.equal(qs.rematch.created, 1);
      const fresh = (await releaseFindings(t.store, gw10)).find(
        (f) => f.vulnerability === "GHSA-qqqq-0000-0002",
      )!;
      assert.equal(fresh.id.slice(0, 14), gw10.slice(0, 14));
      assert.deepEqual(await findingById(t.store, fresh.id), fresh);
    } finally {
      await t.close();
    }
  });
