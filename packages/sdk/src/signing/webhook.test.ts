import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { describe, it } from "node:test";
import { verifyWebhookSignature, webhookSignature } from "./webhook.ts";

describe("signing: webhook signatures (HMAC-SHA256 over t.body)", () => {
  const secret = "whsec_test";
  const body = '{"event":"finding.new"}';
  const now = 1_780_000_000;

  it("matches an HMAC computed independently, and verifies within the tolerance", () => {
    const expected = createHmac("sha256", secret).update(`${now}.${body}`).digest("hex");
    assert.equal(webhookSignature(secret, now, body), `t=${now},v1=${expected}`);
    assert.equal(
      verifyWebhookSignature(secret, webhookSignature(secret, now, body), body, { nowSeconds: now + 299 }),
      true,
    );
  });

  it("refuses another secret, another body, a stale or future timestamp, and malformed headers", () => {
    const header = webhookSignature(secret, now, body);
    assert.equal(verifyWebhookSignature("other", header, body, { nowSeconds: now }), false);
    assert.equal(verifyWebhookSignature(secret, header, `${body} `, { nowSeconds: now }), false);
    assert.equal(verifyWebhookSignature(secret, header, body, { nowSeconds: now + 301 }), false);
    assert.equal(verifyWebhookSignature(secret, header, body, { nowSeconds: now - 301 }), false);
    assert.equal(
      verifyWebhookSignature(secret, header, body, { nowSeconds: now + 600, toleranceSeconds: 600 }),
      true,
    );
    for (const bad of ["", `t=${now}`, header.replace("v1=", "v2="), `${header}0`, header.toUpperCase()])
      assert.equal(verifyWebhookSignature(secret, bad, body, { nowSeconds: now }), false, bad);
  });
});
