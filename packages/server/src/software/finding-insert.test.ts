import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import { DATABASE_URL, freshSchema, needServices } from "../../../../test/services.ts";
import { createProduct, createRelease } from "../cra/products.ts";
import { migrate } from "../store/migrate.ts";
import { migrations } from "../store/migrations.ts";
import { PostgresStore } from "../store/postgres.ts";
import type { Store } from "../store/store.ts";
import { insertFindings } from "./finding-insert.ts";
import type { FindingRow } from "./findings.ts";
import { timeOrderedUuid } from "./ids.ts";
import { tempStore } from "./test-fixtures.ts";

const backends: {
  name: string;
  open(t: TestContext): Promise<{ store: Store; close(): Promise<void> } | undefined>;
}[] = [
  { name: "SqliteStore", open: () => tempStore() },
  {
    name: "PostgresStore",
    async open(t) {
      if (!(await needServices(t, ["postgres"]))) return undefined;
      const schema = freshSchema();
      const store = await PostgresStore.open({ url: DATABASE_URL, schema: schema.name });
      await migrate(store, migrations);
      return {
        store,
        async close() {
          await store.close();
          await schema.drop();
        },
      };
    },
  },
];

/** 601 rows: more than two full statements of plain rows, plus every fifth row with carried-over triage. */
function rows(releaseId: string): FindingRow[] {
  return Array.from({ length: 601 }, (_, i) => {
    const carried = i % 5 === 0;
    return {
      id: timeOrderedUuid(),
      release_id: releaseId,
      vuln_id: `CVE-2024-${String(i).padStart(4, "0")}`,
      purl: `pkg:npm/p${i % 7}@1.0.${i}`,
      package_key: `npm:p${i % 7}`,
      component_name: `p${i % 7}`,
      component_version: `1.0.${i}`,
      advisory_ids: JSON.stringify([`GHSA-${i}`]),
      summary: i % 3 === 0 ? null : `summary ${i} with 'quotes'`,
      severity: "high",
      score_tenths: i % 4 === 0 ? null : 75,
      fixed_versions: JSON.stringify(["2.0.0"]),
      known_exploited: i % 2,
      article14_candidate: i % 2,
      status: "open",
      resolution: null,
      triage_state: carried ? "not_affected" : "under_investigation",
      triage: carried
        ? JSON.stringify({ state: "not_affected", justification: "component_not_present" })
        : null,
      triage_source: carried ? "carried-over:x" : null,
      triaged_at: carried ? 1_700_000_000_001 : null,
      created_at: 1_700_000_000_000 + i,
      updated_at: 1_700_000_000_000 + i,
      resolved_at: null,
    };
  });
}

for (const backend of backends) {
  describe(`bulk insert of new findings on ${backend.name}`, () => {
    it("stores every column of plain and triaged rows exactly", async (t) => {
      const opened = await backend.open(t);
      if (!opened) return;
      try {
        const { store } = opened;
        const want = await store.transaction(async (tx) => {
          const product = await createProduct(tx, "gw");
          const release = await createRelease(tx, product.id, "1.0.0", "feature");
          const r = rows(release.id);
          await insertFindings(tx, r);
          return r;
        });
        const got = await store.all<FindingRow>(`SELECT * FROM findings ORDER BY vuln_id`);
        assert.equal(got.length, want.length);
        const normalise = (r: FindingRow) => ({
          ...r,
          score_tenths: r.score_tenths === null ? null : Number(r.score_tenths),
          known_exploited: Number(r.known_exploited),
          article14_candidate: Number(r.article14_candidate),
          triaged_at: r.triaged_at === null ? null : Number(r.triaged_at),
          created_at: Number(r.created_at),
          updated_at: Number(r.updated_at),
        });
        assert.deepEqual(got.map(normalise), want.map(normalise));
      } finally {
        await opened.close();
      }
    });
  });
}
