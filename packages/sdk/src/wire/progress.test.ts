import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PROGRESS_PACING, progressPacer } from "./progress.ts";

const MiB = 1024 * 1024;

/** Feeds `chunks` running totals at the given clock times; returns the totals reported. */
function reported(at: number[], totals: number[], total: number): number[] {
  let clock = 0;
  const due = progressPacer(PROGRESS_PACING, () => clock);
  const out: number[] = [];
  at.forEach((t, i) => {
    clock = t;
    if (due(totals[i]!, total)) out.push(totals[i]!);
  });
  return out;
}

describe("wire: progress reports are paced", () => {
  it("a fast download reports no progress at all (downloading, then verifying, say it all)", () => {
    const totals = Array.from({ length: 16 }, (_, i) => (i + 1) * 64 * 1024);
    assert.deepEqual(
      reported(
        totals.map((_, i) => i * 10),
        totals,
        MiB,
      ),
      [],
    );
  });

  it("a slow download reports each further 10 %, and never the last byte", () => {
    // 100 chunks of 1 % each, one a second: every 10 % (10 s), not the 100 %.
    const totals = Array.from({ length: 100 }, (_, i) => (i + 1) * 1000);
    const times = totals.map((_, i) => (i + 1) * 1000);
    assert.deepEqual(
      reported(times, totals, 100_000),
      [10_000, 20_000, 30_000, 40_000, 50_000, 60_000, 70_000, 80_000, 90_000],
    );
  });

  it("a very slow download still reports once a minute (its job's deadline moves on)", () => {
    // 0.1 % a second for 200 s: 10 % would take 100 s; the heartbeat reports every 60 s.
    const totals = Array.from({ length: 200 }, (_, i) => (i + 1) * 100);
    const times = totals.map((_, i) => (i + 1) * 1000);
    assert.deepEqual(reported(times, totals, 100_000), [6000, 12_000, 18_000]);
  });

  it("10 % that arrive within 2 s of the last report wait for the interval", () => {
    const totals = [50_000, 60_000, 90_000];
    assert.deepEqual(reported([1000, 2000, 3000], totals, 100_000), [60_000]);
  });

  it("many chunks at once after the interval: one report, not one per chunk", () => {
    const totals = [10_000, 20_000, 30_000, 40_000];
    assert.deepEqual(reported([2500, 2501, 2502, 2503], totals, 100_000), [10_000]);
  });
});
