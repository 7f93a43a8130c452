/**
 * Benchmark (issue #16 item 5): `npm run bench -- csaf-validate [vulnerabilities] [versions]`
 * builds a large CSAF advisory (default 500 vulnerabilities, the API's limit, over 200 affected
 * versions) and validates it as publication does (`cra/csaf/validation.ts`: strict schema and
 * mandatory tests deciding, recommended tests warning, on a worker thread), measuring the longest
 * stall of the main thread's event loop (gaps between turns of a 1 ms timer). Also in-thread with a
 * pause between tests. Peer: the library's own `validate()` over the same tests on the main
 * thread, in the same run. Goal: the longest stall at most 200 ms.
 */
import * as mandatory from "@secvisogram/csaf-validator-lib/mandatoryTests.js";
import * as recommended from "@secvisogram/csaf-validator-lib/optionalTests.js";
import { csaf_2_0_strict } from "@secvisogram/csaf-validator-lib/schemaTests.js";
import validate from "@secvisogram/csaf-validator-lib/validate.js";
import { buildAdvisory } from "../packages/server/src/cra/csaf/advisory.ts";
import { validateCsaf } from "../packages/server/src/cra/csaf/validation.ts";
import { CsafValidatorPool } from "../packages/server/src/cra/csaf/validator-pool.ts";

const GOAL_MS = 200;

function largeAdvisory(vulnerabilities: number, versions: number) {
  return buildAdvisory({
    trackingId: "gateway-2026-0001",
    title: "gateway: many vulnerabilities fixed",
    publisher: { name: "Acme Devices GmbH", namespace: "https://acme.example/" },
    product: { name: "gateway", vendor: "Acme Devices GmbH" },
    affected: Array.from({ length: versions }, (_, i) => ({
      version: `1.${i}.0`,
      purl: `pkg:generic/gateway@1.${i}.0`,
    })),
    fixed: { version: "9.0.0", purl: "pkg:generic/gateway@9.0.0" },
    vulnerabilities: Array.from({ length: vulnerabilities }, (_, i) => ({
      id: `CVE-2026-${String(10000 + i)}`,
      aliases: [`GHSA-bench-${String(i).padStart(4, "0")}-0000`],
      summary: `A vulnerability number ${i} in a component of the gateway.`,
      cvss: {
        version: "3.1",
        vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        baseScore: 9.8,
        rating: "critical",
      } as never,
      knownExploited: i % 10 === 0,
    })),
    canonicalUrl: "https://acme.example/.well-known/csaf/white/2026/gateway-2026-0001.json",
    releasedAt: Date.parse("2026-06-01T00:00:00Z"),
    generator: "0.1.0",
  });
}

// The longest gap between turns of a 1 ms timer while `work` runs: how long the API would stall.
async function stall(work: () => Promise<unknown>) {
  let last = performance.now();
  let max = 0;
  let stop = false;
  const tick = () => {
    const now = performance.now();
    max = Math.max(max, now - last);
    last = now;
    if (!stop) setTimeout(tick, 1);
  };
  setTimeout(tick, 1);
  const start = performance.now();
  const result = await work();
  const ms = performance.now() - start;
  await new Promise((resolve) => setTimeout(resolve, 5));
  stop = true;
  return { ms, maxStallMs: max, result };
}

export async function run(args: string[]): Promise<void> {
  const vulnerabilities = Number(args[0] ?? 500);
  const versions = Number(args[1] ?? 200);
  const doc = largeAdvisory(vulnerabilities, versions);
  const bytes = Buffer.byteLength(JSON.stringify(doc, null, 2));
  const text = JSON.stringify(doc, null, 2);
  // Warm each path once (library load and schema compilation, JIT), then measure.
  const pool = new CsafValidatorPool();
  const cold = await stall(() => pool.validate(text));
  const offThread = await stall(() => pool.validate(text));
  await pool.close();
  await validateCsaf(doc);
  const inline = await stall(() => validateCsaf(doc));
  const tests = [csaf_2_0_strict, ...Object.values(mandatory), ...Object.values(recommended)];
  const peer = await stall(() => validate(tests, doc));
  const r = offThread.result as Awaited<ReturnType<typeof validateCsaf>>;
  process.stdout.write(
    `${vulnerabilities} vulnerabilities x ${versions} affected versions, ${(bytes / 1024).toFixed(0)} KiB, ` +
      `${r.tests} tests, ${r.errors.length} errors, ${r.warnings.length} warnings\n` +
      `worker thread, first use (library load): ${cold.ms.toFixed(0)} ms total, longest stall ${cold.maxStallMs.toFixed(1)} ms\n` +
      `publication (worker thread): ${offThread.ms.toFixed(0)} ms total, longest event-loop stall ${offThread.maxStallMs.toFixed(1)} ms\n` +
      `in-thread, a pause between tests: ${inline.ms.toFixed(0)} ms total, longest stall ${inline.maxStallMs.toFixed(1)} ms\n` +
      `library validate() back to back: ${peer.ms.toFixed(0)} ms total, longest stall ${peer.maxStallMs.toFixed(1)} ms\n`,
  );
  console.log(
    JSON.stringify({
      bench: "csaf-validate",
      metric: "longest event-loop stall while validating a large advisory for publication",
      value: Number(Math.max(cold.maxStallMs, offThread.maxStallMs).toFixed(1)),
      unit: "ms",
      peer: "csaf-validator-lib validate() over the same tests on the main thread",
      peer_value: Number(peer.maxStallMs.toFixed(1)),
      ratio: Number((Math.max(cold.maxStallMs, offThread.maxStallMs) / peer.maxStallMs).toFixed(3)),
      goal: `<= ${GOAL_MS} ms`,
      met: Math.max(cold.maxStallMs, offThread.maxStallMs) <= GOAL_MS,
    }),
  );
}
