import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { admitted, fullyAdmitted } from "./deployment-spec.ts";
import { deviceMayMove } from "./job-reports.ts";

const MIN = 60_000;

describe("rollout strategies: how many devices are admitted by when", () => {
  it("all at once admits everyone", () => {
    assert.equal(admitted({ kind: "all-at-once" }, 1000, 0, 0), 1000);
  });

  it("waves admit a cumulative percentage per wave, rounded up", () => {
    const waves = { kind: "waves" as const, waves: [1, 10, 100], successGate: 0.9, pauseAfterWave: false };
    assert.deepEqual(
      [0, 1, 2].map((w) => admitted(waves, 250, w, 0)),
      [3, 25, 250],
    );
    assert.equal(fullyAdmitted(waves, 250, 1, 0), false);
    assert.equal(fullyAdmitted(waves, 250, 2, 0), true);
  });

  it("a rate admits perMinute devices in each started minute", () => {
    const rate = { kind: "rate" as const, perMinute: 100 };
    assert.deepEqual(
      [0, MIN - 1, MIN, 5 * MIN, 100 * MIN].map((t) => admitted(rate, 1000, 0, t)),
      [100, 100, 200, 600, 1000],
    );
  });

  it("an exponential ramp multiplies by its factor each interval", () => {
    const ramp = { kind: "exponential" as const, initial: 10, factor: 2, intervalSeconds: 60 };
    assert.deepEqual(
      [0, MIN, 2 * MIN, 3 * MIN, 20 * MIN].map((t) => admitted(ramp, 500, 0, t)),
      [10, 20, 40, 80, 500],
    );
  });
});

describe("device job reports move forward only", () => {
  it("allows the install sequence, deferral before installing, and nothing after the end", () => {
    assert.ok(deviceMayMove("notified", "downloading"));
    assert.ok(deviceMayMove("downloading", "deferred"), "download now, install in the window");
    assert.ok(deviceMayMove("deferred", "installing"));
    assert.ok(deviceMayMove("installing", "rolled_back"));
    assert.ok(!deviceMayMove("installing", "deferred"));
    assert.ok(!deviceMayMove("verifying", "downloading"));
    assert.ok(!deviceMayMove("succeeded", "installing"), "a finished job never installs again");
    assert.ok(!deviceMayMove("canceled", "downloading"));
  });
});
