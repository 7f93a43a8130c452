import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backoffMs, RECONNECT } from "./backoff.ts";

const FLEET = 1000;

/** A seeded generator (LCG), so the measurement is the same on every run. */
function seeded(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

interface Spread {
  /** Most agents reconnecting within any one second after the broker is back. */
  peakPerSecond: number;
  /** Reconnect times after the broker is back: 5th percentile, 95th, last (ms). */
  p5: number;
  p95: number;
  last: number;
}

/**
 * The broker goes down at t=0 and every agent sees its connection close; each follows the agent's
 * real schedule (backoffMs per failed attempt, as `run.ts` calls it) until an attempt falls after
 * the broker is back (`outageMs`). Returns how those successful reconnects are spread.
 */
function simulate(outageMs: number, random: () => number): Spread {
  const times: number[] = [];
  for (let agent = 0; agent < FLEET; agent++) {
    let t = 0;
    for (let attempt = 0; t < outageMs || attempt === 0; attempt++)
      t += backoffMs(attempt, undefined, undefined, random);
    times.push(t - outageMs);
  }
  times.sort((a, b) => a - b);
  const perSecond = new Map<number, number>();
  for (const t of times) perSecond.set(Math.floor(t / 1000), (perSecond.get(Math.floor(t / 1000)) ?? 0) + 1);
  return {
    peakPerSecond: Math.max(...perSecond.values()),
    p5: times[Math.floor(FLEET * 0.05)]!,
    p95: times[Math.floor(FLEET * 0.95)]!,
    last: times[FLEET - 1]!,
  };
}

describe("agent: reconnect backoff spreads a fleet after a broker restart", () => {
  for (const outageMs of [0, 5_000, 30_000]) {
    it(`1,000 agents, broker back after ${outageMs / 1000} s: no second sees more than 20 % of them`, () => {
      const spread = simulate(outageMs, seeded(outageMs + 1));
      console.log(`outage ${outageMs} ms: ${JSON.stringify(spread)}`);
      assert.ok(spread.peakPerSecond <= FLEET * 0.2, `peak ${spread.peakPerSecond} reconnects in one second`);
      assert.ok(spread.p95 - spread.p5 >= RECONNECT.spreadMs / 2, "spread over seconds, not an instant");
      // Bounded: everyone is back within the capped window after the broker is.
      assert.ok(spread.last <= RECONNECT.capMs, `last back after ${spread.last} ms`);
    });
  }

  it("control: without jitter the same measurement sees the whole fleet in one second", () => {
    const spread = simulate(0, () => 0.5);
    assert.equal(spread.peakPerSecond, FLEET);
  });

  it("the window doubles per failure from the spread floor to the cap", () => {
    const top = () => 1 - Number.EPSILON;
    assert.equal(backoffMs(0, undefined, undefined, top), RECONNECT.spreadMs - 1);
    assert.equal(backoffMs(4, undefined, undefined, top), 16_000 - 1);
    assert.equal(backoffMs(30, undefined, undefined, top), RECONNECT.capMs - 1);
    assert.equal(
      backoffMs(3, undefined, undefined, () => 0),
      0,
    );
  });
});
