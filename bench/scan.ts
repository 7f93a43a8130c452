/**
 * Benchmark: warm scan of a deterministic 5,000-component SBOM against all Go + PyPA OSV data.
 * Goal: median warm scan <= 100 ms with RSS <= 1 GiB. Run: node_modules/.bin/node bench/scan.ts
 */
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { readKevCatalog } from "../packages/sdk/src/software/kev.ts";
import { readOsvBundle } from "../packages/sdk/src/software/osv/bundle.ts";
import type { OsvRecord } from "../packages/sdk/src/software/osv/types.ts";
import { parseSbomText } from "../packages/sdk/src/software/sbom/parse.ts";
import { buildOsvIndex, scanSbom } from "../packages/sdk/src/software/scan.ts";
import { type Candidate, candidates, lcg } from "./software-data/candidates.ts";

const TESTDATA = new URL("../test/data/", import.meta.url);
const COMPONENTS = 5000;
const RUNS = 25;
const GOAL_MS = 100;
const GOAL_RSS = 1024 * 1024 * 1024;

function makeSbom(pool: Candidate[]): string {
  const rand = lcg(0xb01a);
  const components: unknown[] = [];
  for (let i = 0; i < COMPONENTS; i++) {
    // Four in five components come from the advisory data, one in five are packages no advisory names.
    if (i % 5 === 4) {
      components.push({
        type: "library",
        "bom-ref": `c${i}`,
        name: `bulwark-bench-${i}`,
        version: "1.0.0",
        purl: `pkg:npm/bulwark-bench-${i}@1.0.0`,
      });
      continue;
    }
    const c = pool[Math.floor(rand() * pool.length)]!;
    components.push({ type: "library", "bom-ref": `c${i}`, name: c.name, version: c.version, purl: c.purl });
  }
  return JSON.stringify({
    bomFormat: "CycloneDX",
    specVersion: "1.6",
    version: 1,
    metadata: {
      timestamp: "2026-01-01T00:00:00Z",
      component: { type: "application", "bom-ref": "root", name: "bench" },
    },
    components,
  });
}

async function loadOsv(): Promise<OsvRecord[]> {
  const dir = new URL("osv/", TESTDATA);
  const records: OsvRecord[] = [];
  for (const f of readdirSync(dir)
    .filter((n) => n.endsWith(".tar.gz") || n.endsWith(".zip"))
    .sort()) {
    for await (const r of readOsvBundle(fileURLToPath(new URL(f, dir)))) records.push(r.record);
  }
  return records;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export async function run(): Promise<void> {
  const records = await loadOsv();
  const kev = await readKevCatalog(
    fileURLToPath(new URL("kev/known_exploited_vulnerabilities.json.gz", TESTDATA)),
  );
  const index = buildOsvIndex(records, kev);
  const doc = parseSbomText(makeSbom(candidates(records)));
  const warm = scanSbom(doc, index);
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    const result = scanSbom(doc, index);
    times.push(performance.now() - t0);
    if (result.findings.length !== warm.findings.length)
      throw new Error("scan results are not deterministic");
  }
  const ms = Math.round(median(times) * 100) / 100;
  const rss = process.memoryUsage().rss;
  console.log(
    `scan: ${records.length} OSV records, ${doc.components.length} components, ${warm.findings.length} findings, ` +
      `${warm.skipped.length} skipped; median of ${RUNS} warm runs ${ms} ms`,
  );
  console.log(`rss: ${Math.round(rss / 1024 / 1024)} MiB`);
  console.log(
    JSON.stringify({
      bench: "scan",
      metric: "warm_scan_ms",
      value: ms,
      unit: "ms",
      peer: "goal",
      peer_value: GOAL_MS,
      ratio: Math.round((ms / GOAL_MS) * 1000) / 1000,
      goal: "<= 100 ms, RSS <= 1 GiB",
      met: ms <= GOAL_MS && rss <= GOAL_RSS,
    }),
  );
}

if (import.meta.main) await run();
