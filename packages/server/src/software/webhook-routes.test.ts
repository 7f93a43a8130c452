import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import Fastify from "fastify";
import { tempStore } from "../../test/store-fixtures.ts";
import { problemDetails } from "../http/problems.ts";
import { webhookRoutes } from "./webhook-routes.ts";
import type { WebhookPolicy } from "./webhooks/destination.ts";
import { WebhookEventRegistry } from "./webhooks/events.ts";

/** The webhook routes on a real Fastify with the server's problem handler (access control is tested elsewhere). */
async function post(policy: WebhookPolicy, url: string) {
  const t = await tempStore();
  const app = Fastify();
  try {
    problemDetails(app);
    await app.register(webhookRoutes(t.store, randomBytes(32), policy, new WebhookEventRegistry()));
    const res = await app.inject({ method: "POST", url: "/api/v1/webhooks", payload: { url } });
    return { status: res.statusCode, type: res.headers["content-type"], body: res.json() };
  } finally {
    await app.close();
    await t.close();
  }
}

describe("POST /api/v1/webhooks: https unless the operator opted in to plain http", () => {
  it("refuses an http:// URL by default with an RFC 9457 problem naming the opt-in", async () => {
    const res = await post({ allowLocal: false, allowHttp: false }, "http://hooks.example/bulwark");
    assert.equal(res.status, 400);
    assert.match(String(res.type), /^application\/problem\+json/);
    assert.equal(res.body.code, "BW_ERR_WEBHOOK_INSECURE_URL");
    assert.equal(res.body.type, "/problems/BW_ERR_WEBHOOK_INSECURE_URL");
    assert.match(res.body.detail, /must use https.*--webhook-allow-http/);
  });

  it("allowing local destinations does not allow plain http", async () => {
    const res = await post({ allowLocal: true, allowHttp: false }, "http://127.0.0.1:9000/bulwark");
    assert.equal(res.body.code, "BW_ERR_WEBHOOK_INSECURE_URL");
  });

  it("accepts https by default and http once allowed", async () => {
    assert.equal(
      (await post({ allowLocal: false, allowHttp: false }, "https://hooks.example/b")).status,
      201,
    );
    assert.equal((await post({ allowLocal: false, allowHttp: true }, "http://hooks.example/b")).status, 201);
  });
});
