import assert from "node:assert/strict";
import { it } from "node:test";
import { asConnectRefusal, CONNACK, MqttRefusal } from "./refusal.ts";

it("a refusal carries its reason and the CONNACK return code of MQTT 3.1.1 §3.2.2.3 table 3.1", () => {
  const codes = Object.fromEntries(
    (
      [
        "no-certificate",
        "not-a-device-certificate",
        "no-device-uri",
        "client-id-not-device-id",
        "keepalive-out-of-range",
        "certificate-not-valid",
        "device-may-not-connect",
        "check-failed",
      ] as const
    ).map((reason) => [reason, new MqttRefusal(reason).returnCode]),
  );
  assert.deepEqual(codes, {
    "no-certificate": 5,
    "not-a-device-certificate": 5,
    "no-device-uri": 5,
    "client-id-not-device-id": 2,
    "keepalive-out-of-range": 5,
    "certificate-not-valid": 5,
    "device-may-not-connect": 5,
    "check-failed": 3,
  });
  assert.equal(CONNACK.identifierRejected, 2);
  const refusal = new MqttRefusal("foreign-topic");
  assert.deepEqual(
    [refusal.message, refusal.reason, refusal instanceof Error],
    ["foreign-topic", "foreign-topic", true],
  );
});

it("an unexpected CONNECT failure becomes a refusal with its cause; a refusal stays itself", () => {
  const cause = new Error("connection terminated");
  const wrapped = asConnectRefusal(cause);
  assert.deepEqual(
    [wrapped.reason, wrapped.message, wrapped.returnCode, wrapped.cause],
    ["check-failed", "connection terminated", 3, cause],
  );
  const refusal = new MqttRefusal("certificate-not-valid", "certificate is not valid");
  assert.equal(asConnectRefusal(refusal), refusal);
});
