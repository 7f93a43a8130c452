import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Ajv } from "ajv";
import { isDeviceCommand, isWipeConfirmation } from "./commands.ts";
import { sanitiseMetadata } from "./metadata.ts";
import {
  DEFAULT_POLICY_SETTINGS,
  isConfigMessage,
  isPolicySettings,
  POLICY_SETTINGS_SCHEMA,
} from "./policy.ts";
import { parseDeviceReport } from "./reports.ts";
import { devicePublishKind, deviceSubscribeKind, deviceTopics, jobIdOfStatusTopic } from "./topics.ts";

const ID = "0192f1a0-7b7e-7c3d-8a5e-1234567890ab";

describe("wire: topics (a device touches only its own subtree)", () => {
  it("classifies a device's own publish topics and nothing else", () => {
    const t = deviceTopics(ID);
    assert.equal(devicePublishKind(ID, t.meta), "meta");
    assert.equal(devicePublishKind(ID, t.events), "events");
    assert.equal(devicePublishKind(ID, t.jobStatus("job_1")), "jobStatus");
    assert.equal(jobIdOfStatusTopic(ID, t.jobStatus("job_1")), "job_1");
    for (const bad of [
      deviceTopics("other").meta,
      t.config, // server → device only
      `${t.meta}/x`,
      `bw/v1/d/${ID}/jobs/a/b/status`,
      `bw/v1/d/${ID}/jobs/${"x".repeat(65)}/status`,
      `bw/v1/d/${ID}/jobs/+/status`,
    ])
      assert.equal(devicePublishKind(ID, bad), undefined, bad);
  });

  it("allows subscriptions to its own jobs/notify, config and cmd, never a wildcard", () => {
    const t = deviceTopics(ID);
    assert.equal(deviceSubscribeKind(ID, t.jobsNotify), "jobsNotify");
    assert.equal(deviceSubscribeKind(ID, t.config), "config");
    assert.equal(deviceSubscribeKind(ID, t.cmd), "cmd");
    for (const bad of [`bw/v1/d/${ID}/#`, "bw/v1/d/+/cmd", deviceTopics("other").cmd, t.events])
      assert.equal(deviceSubscribeKind(ID, bad), undefined, bad);
  });
});

describe("wire: minimal metadata (CRA Annex I Part I (2)(g))", () => {
  it("keeps allow-listed, well-formed fields and reports what it dropped", () => {
    const { metadata, dropped } = sanitiseMetadata({
      model: "GW-1",
      osVersion: "12",
      mac: "AA:BB:CC:DD:EE:FF",
      listeningPorts: [22, 443],
      agentIntegrity: "tampered",
      userName: "alice",
      agentVersion: "bad\u0007bell",
      firmwareVersion: "x".repeat(129),
    });
    assert.deepEqual(metadata, {
      model: "GW-1",
      osVersion: "12",
      mac: "aa:bb:cc:dd:ee:ff",
      listeningPorts: [22, 443],
      agentIntegrity: "tampered",
    });
    assert.deepEqual(dropped.sort(), ["agentVersion", "firmwareVersion", "userName"]);
    assert.deepEqual(sanitiseMetadata({ agentIntegrity: "fine" }).dropped, ["agentIntegrity"]);
    assert.deepEqual(sanitiseMetadata([1]).dropped, ["(root)"]);
    assert.deepEqual(sanitiseMetadata({ listeningPorts: [0] }).dropped, ["listeningPorts"]);
  });

  it("keeps the agent's anti-rollback counters only as component → non-negative integer", () => {
    assert.deepEqual(sanitiseMetadata({ antiRollbackCounters: { firmware: 2, "app.ui": 0 } }), {
      metadata: { antiRollbackCounters: { firmware: 2, "app.ui": 0 } },
      dropped: [],
    });
    const many = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`c${i}`, 1]));
    for (const bad of [{ firmware: -1 }, { firmware: 1.5 }, { firmware: "2" }, { "Bad Name": 1 }, [1], many])
      assert.deepEqual(sanitiseMetadata({ antiRollbackCounters: bad }).dropped, ["antiRollbackCounters"]);
  });

  it("keeps the delta formats the agent applies only as a short list of distinct format names", () => {
    assert.deepEqual(sanitiseMetadata({ deltaFormats: ["zstd-dict", "zstd-seg"] }), {
      metadata: { deltaFormats: ["zstd-dict", "zstd-seg"] },
      dropped: [],
    });
    // An empty list is kept (the agent applies none), and so is a later agent's well-formed format.
    assert.deepEqual(sanitiseMetadata({ deltaFormats: [] }).metadata, { deltaFormats: [] });
    assert.deepEqual(sanitiseMetadata({ deltaFormats: ["zstd-seg2"] }).metadata, {
      deltaFormats: ["zstd-seg2"],
    });
    const many = Array.from({ length: 9 }, (_, i) => `f${i}`);
    for (const bad of [
      "zstd-dict",
      ["zstd-dict", "zstd-dict"],
      ["Zstd"],
      ["a b"],
      [1],
      ["x".repeat(33)],
      many,
      {},
    ])
      assert.deepEqual(
        sanitiseMetadata({ deltaFormats: bad }).dropped,
        ["deltaFormats"],
        JSON.stringify(bad),
      );
  });
});

describe("wire: policy settings — the device validator agrees with the HTTP schema", () => {
  const validate = new Ajv({ strict: true }).compile(POLICY_SETTINGS_SCHEMA);
  const d = DEFAULT_POLICY_SETTINGS;
  const samples: unknown[] = [
    d,
    { ...d, telemetryIntervalSeconds: 59 },
    { ...d, telemetryIntervalSeconds: 86400 },
    { ...d, telemetryIntervalSeconds: 60.5 },
    { ...d, extra: true },
    { ...d, updates: { ...d.updates, mode: "never" } },
    { ...d, updates: { ...d.updates, deferralLimitDays: 366 } },
    { ...d, tls: { minVersion: "TLSv1.2", groups: ["X25519"] } },
    { ...d, tls: { minVersion: "TLSv1.3", groups: [] } },
    { ...d, tls: { minVersion: "TLSv1.3", groups: ["X25519", "X25519"] } },
    { ...d, tls: { minVersion: "TLSv1.3", groups: ["P-521"] } },
    { ...d, securityEventLogging: "yes" },
    null,
  ];
  for (const [i, sample] of samples.entries())
    it(`sample ${i}: ${validate(sample) ? "valid" : "invalid"} both ways`, () => {
      assert.equal(isPolicySettings(sample), validate(sample));
    });

  it("a config message needs a positive version and valid settings", () => {
    const message = {
      type: "config",
      deviceId: ID,
      policy: { name: "default", version: 3, settings: d },
      issuedAt: 1,
    };
    assert.equal(isConfigMessage(message), true);
    assert.equal(isConfigMessage({ ...message, policy: { ...message.policy, version: 0 } }), false);
    assert.equal(isConfigMessage({ ...message, policy: { ...message.policy, settings: {} } }), false);
  });
});

describe("wire: device reports and commands", () => {
  it("accepts the report union's members and refuses extra fields, unknown kinds and control characters", () => {
    const event = { type: "security-event", kind: "login-failed", at: "2026-12-06T06:00:00Z", detail: "ssh" };
    assert.deepEqual(parseDeviceReport(event), event);
    assert.deepEqual(parseDeviceReport({ type: "config-applied", policy: "p", version: 2 }), {
      type: "config-applied",
      policy: "p",
      version: 2,
    });
    assert.deepEqual(parseDeviceReport({ type: "event-logging", enabled: false, source: "device" }), {
      type: "event-logging",
      enabled: false,
      source: "device",
    });
    for (const bad of [
      { ...event, user: "alice" },
      { ...event, kind: "reboot" },
      { ...event, at: "yesterday" },
      { ...event, detail: "line\nbreak" },
      { type: "config-rejected", reason: "" },
      { type: "event-logging", enabled: true, source: "operator" },
      [],
    ])
      assert.equal(parseDeviceReport(bad), undefined, JSON.stringify(bad));
  });

  it("recognises a wipe command and its confirmation", () => {
    assert.equal(isDeviceCommand({ type: "wipe", deviceId: ID, wipeId: "w1", issuedAt: 1 }), true);
    assert.equal(isDeviceCommand({ type: "wipe", deviceId: ID, wipeId: "../x", issuedAt: 1 }), false);
    assert.equal(isDeviceCommand({ type: "reboot", deviceId: ID }), false);
    assert.equal(isWipeConfirmation({ state: "wiped", wipeId: "w1" }, "w1"), true);
    assert.equal(isWipeConfirmation({ state: "wiped", wipeId: "w2" }, "w1"), false);
  });
});
