import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_POLICY_SETTINGS, isPolicySettings } from "@bulwark/sdk/wire/policy";
import { parseDeviceReport } from "@bulwark/sdk/wire/reports";
import { receiveAllowed } from "../mqtt/acl.ts";
import { mayDownload } from "./device-access.ts";
import { DEVICE_STATUSES } from "./devices.ts";
import { allowedTransitions, DEVICE_ACTIONS, mayConnect, mayTransition, targetStatus } from "./lifecycle.ts";

describe("device lifecycle", () => {
  it("every action leads to a known status and no status may move to itself", () => {
    for (const action of DEVICE_ACTIONS) assert.ok(DEVICE_STATUSES.includes(targetStatus(action)));
    for (const status of DEVICE_STATUSES) assert.ok(!allowedTransitions(status).includes(status));
  });

  it("compromised only goes to decommissioned; decommissioned is final", () => {
    assert.deepEqual(allowedTransitions("compromised"), ["decommissioned"]);
    assert.deepEqual(allowedTransitions("decommissioned"), []);
    assert.ok(!mayTransition("compromised", "active"));
    assert.ok(mayTransition("disabled", "active"));
  });

  it("only active, quarantined and (for its wipe) decommissioned devices hold sessions", () => {
    assert.deepEqual(DEVICE_STATUSES.filter(mayConnect), ["active", "quarantined", "decommissioned"]);
  });

  it("quarantine receives remediation only and downloads remediation only", () => {
    assert.ok(receiveAllowed("quarantined", "config"));
    assert.ok(receiveAllowed("quarantined", "cmd"));
    assert.ok(!receiveAllowed("quarantined", "jobsNotify"));
    assert.ok(!receiveAllowed("decommissioned", "config"));
    assert.ok(mayDownload("quarantined", "remediation") && !mayDownload("quarantined", "update"));
    for (const status of ["disabled", "compromised", "decommissioned", "pending"] as const)
      assert.ok(!mayDownload(status, "remediation"));
  });
});

describe("wire validators", () => {
  it("policy settings: defaults pass; unknown fields, bad ranges and TLS < 1.3 fail", () => {
    assert.ok(isPolicySettings(DEFAULT_POLICY_SETTINGS));
    assert.ok(!isPolicySettings({ ...DEFAULT_POLICY_SETTINGS, extra: 1 }));
    assert.ok(!isPolicySettings({ ...DEFAULT_POLICY_SETTINGS, telemetryIntervalSeconds: 1 }));
    assert.ok(
      !isPolicySettings({ ...DEFAULT_POLICY_SETTINGS, tls: { minVersion: "TLSv1.2", groups: ["X25519"] } }),
    );
    assert.ok(!isPolicySettings({ ...DEFAULT_POLICY_SETTINGS, tls: { minVersion: "TLSv1.3", groups: [] } }));
  });

  it("device reports: known shapes pass, anything else is refused", () => {
    assert.ok(
      parseDeviceReport({ type: "security-event", kind: "login-failed", at: new Date().toISOString() }),
    );
    assert.ok(parseDeviceReport({ type: "config-applied", policy: "p", version: 2 }));
    assert.equal(
      parseDeviceReport({ type: "security-event", kind: "rootkit", at: "2026-01-01T00:00:00Z" }),
      undefined,
    );
    assert.equal(
      parseDeviceReport({ type: "security-event", kind: "login-failed", at: "yesterday" }),
      undefined,
    );
    assert.equal(
      parseDeviceReport({
        type: "security-event",
        kind: "login-failed",
        at: "2026-01-01T00:00:00Z",
        user: "jane",
      }),
      undefined,
    );
    assert.equal(parseDeviceReport({ type: "config-applied", policy: "p", version: 0 }), undefined);
    assert.equal(parseDeviceReport([]), undefined);
  });
});
