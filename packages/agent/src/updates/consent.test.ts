import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { JobNotify } from "@bulwark/sdk/wire/jobs";
import { type Consent, decide, windowOpening } from "./consent.ts";

const HOUR = 3600_000;
const NOW = Date.parse("2026-12-06T10:00:00Z");

const note = (extra: Partial<JobNotify> = {}): JobNotify => ({
  type: "update",
  jobId: "job-1",
  deploymentId: "d",
  productId: "p",
  state: "notified",
  targets: [{ path: "firmware/1.0.0/x.img", artifact: "binary" }],
  component: "firmware",
  version: "1.0.0",
  kind: "security",
  mandatory: true,
  maxDeferralSeconds: 24 * 3600,
  window: null,
  network: { metered: "allow" },
  rollback: false,
  issuedAt: NOW,
  ...extra,
});
const consent = (extra: Partial<Consent> = {}): Consent => ({
  automatic: true,
  refused: [],
  approved: [],
  ...extra,
});

describe("on-device consent", () => {
  it("installs automatically by default", () => {
    assert.deepEqual(decide(note(), consent(), NOW, NOW), { action: "install" });
  });

  it("a mandatory update may be deferred only up to its limit, and never refused", () => {
    const deferred = decide(note(), consent({ deferUntil: NOW + 72 * HOUR }), NOW, NOW);
    assert.deepEqual(deferred, { action: "defer", until: NOW + 24 * HOUR, reason: "deferred by the user" });
    assert.equal(decide(note(), consent({ refused: ["job-1"] }), NOW, NOW).action, "defer");
    assert.deepEqual(decide(note(), consent({ automatic: false }), NOW, NOW + 25 * HOUR), {
      action: "install",
    });
  });

  it("an optional update waits for approval when automatic install is off, and can be refused", () => {
    const optional = note({ kind: "feature", mandatory: false, maxDeferralSeconds: 0 });
    assert.equal(decide(optional, consent({ automatic: false }), NOW, NOW).action, "defer");
    assert.deepEqual(decide(optional, consent({ automatic: false, approved: ["job-1"] }), NOW, NOW), {
      action: "install",
    });
    assert.deepEqual(decide(optional, consent({ refused: ["job-1"] }), NOW, NOW), {
      action: "reject",
      reason: "refused by the user",
    });
  });

  it("waits for the maintenance window in its time zone", () => {
    const window = { cron: "0 2 * * *", timeZone: "Europe/Berlin", durationMinutes: 60 };
    // 10:00 UTC = 11:00 in Berlin: the next window opens at 02:00 Berlin = 01:00 UTC tomorrow.
    assert.equal(windowOpening(window, NOW), Date.parse("2026-12-07T01:00:00Z"));
    assert.equal(
      windowOpening(window, Date.parse("2026-12-07T01:30:00Z")),
      Date.parse("2026-12-07T01:30:00Z"),
    );
    const d = decide(note({ window }), consent(), NOW, NOW);
    assert.deepEqual(d, {
      action: "defer",
      until: Date.parse("2026-12-07T01:00:00Z"),
      reason: "waiting for the maintenance window",
    });
  });
});
