import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isDeviceCommand } from "./commands.ts";
import { isTransferCommand } from "./transfer.ts";
import { isUserNoticeAck, isUserNoticeCommand, type UserNoticeCommand } from "./user-notice.ts";

const notice: UserNoticeCommand = {
  type: "user-notice",
  deviceId: "0192f1a0-7b7e-7c3d-8a5e-1234567890ab",
  noticeId: "0192f1a0-7b7e-7c3d-8a5e-00000000000a",
  eventId: "0192f1a0-7b7e-7c3d-8a5e-00000000000b",
  kind: "vulnerability",
  vulnerability: "CVE-2021-44228",
  title: "CVE-2021-44228 actively exploited in log4js",
  text: "Remote code execution.\nUpdate now.",
  severity: "critical",
  action: "Install firmware 2.1.0",
  advisoryUrls: ["https://bulwark.example/.well-known/csaf/white/2026/x.json"],
  affectedVersion: "2.0.0",
  issuedAt: 1_790_000_000_000,
};

describe("wire: the CRA Art. 14(8) user notice", () => {
  it("accepts a well-formed notice, which is neither a wipe nor a transfer command", () => {
    assert.ok(isUserNoticeCommand(notice));
    assert.ok(
      isUserNoticeCommand({ ...notice, vulnerability: null, affectedVersion: null, advisoryUrls: [] }),
    );
    assert.equal(isDeviceCommand(notice), false);
    assert.equal(isTransferCommand(notice), false);
  });

  it("refuses each malformed field", () => {
    for (const [field, value] of [
      ["type", "notice"],
      ["deviceId", "not-a-uuid"],
      ["noticeId", "a/b"],
      ["eventId", 7],
      ["kind", "rumour"],
      ["vulnerability", "CVE 1"],
      ["title", ""],
      ["title", "x".repeat(301)],
      ["text", "bell\u0007"],
      ["severity", "urgent"],
      ["action", undefined],
      ["advisoryUrls", ["file:///etc/passwd"]],
      ["advisoryUrls", ["https://user:pw@example.com/a"]],
      ["advisoryUrls", Array.from({ length: 11 }, (_, i) => `https://example.com/${i}`)],
      ["affectedVersion", 2],
      ["issuedAt", "now"],
    ] as const)
      assert.equal(isUserNoticeCommand({ ...notice, [field]: value }), false, `${field}: ${String(value)}`);
    assert.equal(isUserNoticeCommand([notice]), false);
  });

  it("an acknowledgement names its notice and what the device did", () => {
    const ack = { state: "notice-acknowledged", noticeId: notice.noticeId, hook: "ran" };
    assert.ok(isUserNoticeAck(ack, notice.noticeId));
    assert.equal(isUserNoticeAck(ack, "another"), false);
    assert.equal(isUserNoticeAck({ ...ack, hook: "maybe" }, notice.noticeId), false);
    assert.equal(isUserNoticeAck({ ...ack, state: "succeeded" }, notice.noticeId), false);
  });
});
