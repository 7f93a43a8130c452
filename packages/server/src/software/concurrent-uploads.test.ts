import assert from "node:assert/strict";
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
import type { Release } from "../products/products.ts";
import { releaseFindings } from "./findings.ts";
import { SoftwareMonitor } from "./monitor.ts";

const system = { type: "system" } as const;
const analyst = { type: "user", id: "analyst" } as const;

/** Several rounds, so the flows of a round overlap inside their transactions, not only start together. */
const ROUNDS = 4;

/** The advisory of round `round` on lodash 4.17.21 (its own CVE, so never merged with another). */
const lodashAdvisory = (round: number) =>
  osvRecord({
    id: `GHSA-llll-0000-000${round}`,
    aliases: [`CVE-2024-300${round}`],
    name: "lodash",
    fixed: "4.17.22",
  });

/**
 * Concurrent monitor flows: each numbers new releases, matches and details from `software_counters`
 * and inserts rows keyed by them (`release_keys`, `finding_matches (purl, vuln_id)`, content-addressed
 * `finding_details`). On PostgreSQL at READ COMMITTED two flows could both find a row missing and
 * both insert it, and the second failed on the unique key (two uploads to one release did, every
 * time); now every flow takes the monitor lock first.
 */
for (const backend of storeBackends)
  it(`concurrent SBOM uploads and an advisory import on ${backend.name} all succeed with the right findings`, async (ctx) => {
    const t = await backend.open(ctx);
    if (!t) return;
    try {
      const monitor = new SoftwareMonitor(t.store);
      const qsAdvisory = osvRecord({
        id: "GHSA-qqqq-0000-0001",
        aliases: ["CVE-2024-2002"],
        name: "qs",
        fixed: "6.11.0",
      });
      await monitor.importAdvisories(
        osvDir(t.dir, [minimistAdvisory("2024-01-01T00:00:00Z"), qsAdvisory]),
        system,
      );
      const gws: Release[] = [];
      const others: [Release, string, string][] = [];
      for (let round = 0; round < ROUNDS; round++) {
        // Two releases of one product and one of another, each new (no release number yet); two
        // uploads go to the same release; all name vulnerable purls no SBOM named before. Meanwhile an
        // advisory import matches lodash, which earlier rounds' SBOMs and this round's hold.
        const minimist = `minimist@1.2.${round}`;
        const qs = `qs@6.10.${round}`;
        const gw = await release(t.store, "gw", `1.${round}`);
        const gwNext = await release(t.store, "gw", `2.${round}`);
        const cam = await release(t.store, "cam", `1.${round}`);
        const advisories = osvDir(t.dir, [lodashAdvisory(round)]);
        const flows = [
          monitor.attachSbom(gw.id, cyclonedx([minimist, qs]), analyst),
          monitor.attachSbom(gw.id, cyclonedx([minimist, "lodash@4.17.21"]), analyst),
          monitor.importAdvisories(advisories, system),
          monitor.attachSbom(gwNext.id, cyclonedx([minimist, qs]), analyst),
          monitor.attachSbom(cam.id, cyclonedx([qs, minimist]), analyst),
        ];
        const failed = (await Promise.allSettled(flows)).flatMap((s) =>
          s.status === "rejected" ? [String(s.reason?.message ?? s.reason)] : [],
        );
        assert.deepEqual(failed, [], `round ${round}: every flow succeeds`);
        gws.push(gw);
        others.push([gwNext, minimist, qs], [cam, minimist, qs]);
      }
      const findings = async (r: Release) =>
        (await releaseFindings(t.store, r.id)).map((f) => `${f.vulnerability} ${f.component.purl}`).sort();
      const lodash = Array.from({ length: ROUNDS }, (_, i) => `CVE-2024-300${i} pkg:npm/lodash@4.17.21`);
      for (const [round, gw] of gws.entries())
        assert.deepEqual(
          await findings(gw),
          [
            `CVE-2024-1001 pkg:npm/minimist@1.2.${round}`,
            `CVE-2024-2002 pkg:npm/qs@6.10.${round}`,
            ...lodash,
          ].sort(),
          `gw ${gw.version}: one finding per vulnerable purl, lodash from every round's advisory`,
        );
      for (const [r, minimist, qs] of others)
        assert.deepEqual(await findings(r), [
          `CVE-2024-1001 pkg:npm/${minimist}`,
          `CVE-2024-2002 pkg:npm/${qs}`,
        ]);
      // One match per purl × vulnerability, however many flows raced to create it.
      assert.equal(await count(t.store, "finding_matches"), 2 * ROUNDS + ROUNDS);
      assert.equal(await count(t.store, "findings"), 2 * 3 * ROUNDS + ROUNDS * ROUNDS);
      assert.equal(await count(t.store, "release_keys"), 3 * ROUNDS);
      assert.equal(await count(t.store, "sboms"), 4 * ROUNDS);
    } finally {
      await t.close();
    }
  });
