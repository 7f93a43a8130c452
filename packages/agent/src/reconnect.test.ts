import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  backoffMs,
  connackRefusal,
  isLastingRefusal,
  REFUSED_RETRY_MS,
  refusalCause,
  refusedRetryMs,
} from "./reconnect.ts";

describe("reconnect backoff", () => {
  it("grows exponentially from the base, never narrower than the 10 s spread, is capped, and jitters over [0, ceiling)", () => {
    const top = () => 0.999_999;
    assert.equal(
      backoffMs(0, 1000, 300_000, () => 0),
      0,
    );
    // The first windows are the spread floor (reconnect-spread.test.ts: a fleet after a broker restart).
    assert.equal(backoffMs(0, 1000, 300_000, top), 9999);
    assert.equal(backoffMs(3, 1000, 300_000, top), 9999);
    assert.equal(backoffMs(4, 1000, 300_000, top), 15_999);
    assert.equal(backoffMs(8, 1000, 300_000, top), 255_999);
    assert.equal(backoffMs(9, 1000, 300_000, top), 299_999, "capped");
    assert.equal(backoffMs(10_000, 1000, 300_000, top), 299_999, "a huge attempt count stays finite");
    assert.equal(
      backoffMs(4, 1000, 300_000, () => 0.5),
      8000,
    );
  });

  it("after a refusal waits long: within the upper half of the interval, never sooner", () => {
    assert.equal(REFUSED_RETRY_MS, 3_600_000);
    assert.equal(
      refusedRetryMs(REFUSED_RETRY_MS, () => 0),
      1_800_000,
    );
    assert.equal(
      refusedRetryMs(REFUSED_RETRY_MS, () => 0.999_999),
      3_599_998,
    );
    for (let i = 0; i < 1000; i++) {
      const delay = refusedRetryMs();
      assert.ok(delay >= 1_800_000 && delay < 3_600_000, String(delay));
    }
    // The long wait is far beyond what the ordinary backoff ever reaches (its cap is 5 minutes).
    assert.ok(refusedRetryMs(REFUSED_RETRY_MS, () => 0) > 5 * backoffMs(1e6, 1000, 300_000, () => 0.999_999));
  });
});

describe("CONNACK refusals", () => {
  it("reads the MQTT 3.1.1 return code of an mqtt.js connection error", () => {
    assert.deepEqual(
      connackRefusal(Object.assign(new Error("Connection refused: Not authorized"), { code: 5 })),
      {
        returnCode: 5,
        reason: "not authorized",
      },
    );
    assert.equal(
      connackRefusal(Object.assign(new Error("x"), { code: 4 }))?.reason,
      "bad user name or password",
    );
    assert.equal(connackRefusal(Object.assign(new Error("reset"), { code: "ECONNRESET" })), undefined);
    assert.equal(connackRefusal(new Error("closed")), undefined);
    assert.equal(connackRefusal(Object.assign(new Error("x"), { code: 0 })), undefined);
  });

  it("only a refusal of the device itself waits long; 'server unavailable' retries with the backoff", () => {
    assert.equal(isLastingRefusal({ returnCode: 5, reason: "not authorized" }), true);
    assert.equal(isLastingRefusal({ returnCode: 4, reason: "bad user name or password" }), true);
    assert.equal(isLastingRefusal({ returnCode: 3, reason: "server unavailable" }), false);
  });

  it("names the cause from the certificate's OCSP status", () => {
    const refusal = { returnCode: 5, reason: "not authorized" };
    const revokedAt = new Date("2026-12-01T10:00:00Z");
    assert.match(
      refusalCause(refusal, { kind: "revoked", reason: "keyCompromise", revokedAt }),
      /certificate is revoked \(keyCompromise, since 2026-12-01T10:00:00.000Z\)/,
    );
    assert.match(refusalCause(refusal, { kind: "good" }), /certificate is valid \(OCSP good\).*disabled/);
    assert.match(refusalCause(refusal, { kind: "unknown" }), /OCSP unknown/);
    assert.match(
      refusalCause(refusal, { kind: "unavailable", detail: "connect ECONNREFUSED" }),
      /\(not authorized\); the certificate's status could not be checked: connect ECONNREFUSED/,
    );
  });
});
