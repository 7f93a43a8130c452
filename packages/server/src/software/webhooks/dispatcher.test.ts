import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { BulwarkError } from "@bulwark/sdk/errors";
import { verifyWebhookSignature } from "@bulwark/sdk/signing/webhook";
import pino from "pino";
import { tempStore } from "../../../test/store-fixtures.ts";
import { WebhookDispatcher } from "./dispatcher.ts";
import { createWebhook, enqueueEvents, listDeliveries } from "./webhooks.ts";

/** The receivers of these tests are plain http on loopback: both opt-ins. */
const LAB = { allowLocal: true, allowHttp: true };

interface Received {
  headers: IncomingMessage["headers"];
  body: string;
}

/** A real HTTP receiver on loopback answering with the scripted statuses, then 204. */
async function receiver(script: number[]): Promise<{ server: Server; url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.statusCode = script.shift() ?? 204;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  server.unref();
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
}

async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("webhooks: signed deliveries with retries and a delivery log", () => {
  let t: Awaited<ReturnType<typeof tempStore>>;
  const masterKey = randomBytes(32);
  let dispatcher: WebhookDispatcher;
  const servers: Server[] = [];
  const newDispatcher = () =>
    new WebhookDispatcher({
      store: t.store,
      masterKey,
      log: pino({ level: "silent" }),
      baseDelayMs: 20,
      maxAttempts: 4,
      // The receivers of these tests listen on loopback, over plain http.
      allowLocal: true,
      allowHttp: true,
    });
  before(async () => {
    t = await tempStore();
    dispatcher = newDispatcher();
  });
  after(async () => {
    for (const s of servers) s.close();
    await dispatcher.stop();
    await t.close();
  });

  it("signs with HMAC-SHA256 over timestamp + body, retries with backoff until delivered", async () => {
    const r = await receiver([500, 503]);
    servers.push(r.server);
    const { webhook, secret } = await createWebhook(t.store, masterKey, { url: r.url }, LAB);
    const stored = await t.store.get<{ secret_sealed: string }>(
      `SELECT secret_sealed FROM webhooks WHERE id = ?`,
      [webhook.id],
    );
    assert.ok(!stored!.secret_sealed.includes(secret), "the secret is sealed at rest");
    await t.store.transaction((tx) =>
      enqueueEvents(tx, [{ type: "finding.new", payload: () => ({ id: "f-1" }) }]),
    );
    dispatcher.wake();
    await until(async () => (await listDeliveries(t.store, webhook.id))[0]?.status === "delivered");
    const [delivery] = await listDeliveries(t.store, webhook.id);
    assert.equal(delivery!.attempts, 3);
    assert.equal(delivery!.lastStatus, 204);
    assert.equal(r.received.length, 3);
    for (const got of r.received) {
      const header = String(got.headers["bulwark-signature"]);
      const [, ts, mac] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header)!;
      // Verified independently of our helper: HMAC-SHA256(secret, "<t>.<body>").
      assert.equal(createHmac("sha256", secret).update(`${ts}.${got.body}`).digest("hex"), mac);
      assert.ok(verifyWebhookSignature(secret, header, got.body));
      assert.ok(!verifyWebhookSignature(secret, header, `${got.body} `), "a changed body fails");
      assert.equal(got.headers["bulwark-event"], "finding.new");
      assert.deepEqual(JSON.parse(got.body).data, { id: "f-1" });
    }
  });

  it("gives up after the last attempt and records the failure", async () => {
    const r = await receiver([500, 500, 500, 500, 500]);
    servers.push(r.server);
    const { webhook } = await createWebhook(
      t.store,
      masterKey,
      { url: r.url, events: ["finding.known-exploited"] },
      LAB,
    );
    await t.store.transaction((tx) =>
      enqueueEvents(tx, [
        { type: "finding.known-exploited", payload: () => ({ id: "f-2" }) },
        { type: "finding.new", payload: () => ({ id: "not subscribed" }) },
      ]),
    );
    dispatcher.wake();
    await until(async () => (await listDeliveries(t.store, webhook.id))[0]?.status === "failed");
    const deliveries = await listDeliveries(t.store, webhook.id);
    assert.equal(deliveries.length, 1, "only subscribed events are queued");
    assert.equal(deliveries[0]!.attempts, 4);
    assert.equal(deliveries[0]!.lastError, "HTTP 500");
    assert.equal(r.received.length, 4);
  });

  it("two processes dispatching from one table deliver each event exactly once", async () => {
    const r = await receiver([]);
    servers.push(r.server);
    const { webhook } = await createWebhook(t.store, masterKey, { url: r.url }, LAB);
    const other = new WebhookDispatcher({
      store: t.store,
      masterKey,
      log: pino({ level: "silent" }),
      allowLocal: true,
      allowHttp: true,
    });
    try {
      await t.store.transaction((tx) =>
        enqueueEvents(
          tx,
          Array.from({ length: 20 }, (_, i) => ({
            type: "finding.new" as const,
            payload: () => ({ id: `f-${i}` }),
          })),
        ),
      );
      // Both wake on the same due rows at once, as two server processes would.
      dispatcher.wake();
      other.wake();
      await until(async () =>
        (await listDeliveries(t.store, webhook.id)).every((d) => d.status === "delivered"),
      );
      // Both stopped: every POST either sent has been answered, so a duplicate would be counted here.
      await Promise.all([dispatcher.stop(), other.stop()]);
      dispatcher = newDispatcher();
      const ids = r.received.map((x) => x.headers["bulwark-delivery"]);
      assert.equal(ids.length, 20, "one POST per delivery, none twice");
      assert.equal(new Set(ids).size, 20);
      for (const d of await listDeliveries(t.store, webhook.id)) assert.equal(d.attempts, 1);
    } finally {
      await other.stop();
    }
  });

  it("requires https by default: plain http refused at registration (allow-local does not imply it) and at delivery", async () => {
    const insecure = (e: unknown) =>
      e instanceof BulwarkError &&
      e.code === "BW_ERR_WEBHOOK_INSECURE_URL" &&
      /--webhook-allow-http/.test(e.message);
    await assert.rejects(createWebhook(t.store, masterKey, { url: "http://hooks.example/x" }), insecure);
    await assert.rejects(
      createWebhook(
        t.store,
        masterKey,
        { url: "http://127.0.0.1:8080/hook" },
        { allowLocal: true, allowHttp: false },
      ),
      insecure,
    );
    await assert.rejects(
      createWebhook(t.store, masterKey, { url: "ftp://hooks.example/x" }, LAB),
      /http or https/,
    );
    await createWebhook(t.store, masterKey, { url: "https://hooks.example/x" });
    const opted = await createWebhook(
      t.store,
      masterKey,
      { url: "http://hooks.example/x" },
      { allowLocal: false, allowHttp: true },
    );
    assert.equal(opted.webhook.url, "http://hooks.example/x");

    // Stored while plain http was allowed, delivered by a server that no longer allows it.
    await dispatcher.stop();
    const r = await receiver([]);
    servers.push(r.server);
    const strict = new WebhookDispatcher({
      store: t.store,
      masterKey,
      log: pino({ level: "silent" }),
      maxAttempts: 1,
      allowLocal: true,
    });
    try {
      await t.store.run(`UPDATE webhooks SET active = 0`);
      const { webhook } = await createWebhook(t.store, masterKey, { url: r.url }, LAB);
      await t.store.transaction((tx) =>
        enqueueEvents(tx, [{ type: "finding.new", payload: () => ({ id: "f-http" }) }]),
      );
      strict.wake();
      await until(async () => (await listDeliveries(t.store, webhook.id))[0]?.status === "failed");
      const [delivery] = await listDeliveries(t.store, webhook.id);
      assert.match(delivery!.lastError ?? "", /plain http is not allowed/);
      assert.equal(r.received.length, 0, "nothing was sent in clear text");
    } finally {
      await strict.stop();
    }
  });

  it("refuses local destinations by default: at registration, and at delivery after resolving the name", async () => {
    for (const url of [
      "http://169.254.169.254/latest/meta-data/",
      "http://127.0.0.1:8080/hook",
      "https://[::1]/hook",
      "https://[::ffff:127.0.0.1]/hook",
      "http://localhost:9000/hook",
      "http://0.0.0.0/hook",
    ])
      await assert.rejects(createWebhook(t.store, masterKey, { url }), /local address/, url);
    // Private networks are where a self-hosted platform's own systems live: allowed.
    await createWebhook(t.store, masterKey, { url: "https://10.20.30.40/hook" });

    // Only the strict dispatcher below may deliver from here on.
    await dispatcher.stop();
    // Stored while local destinations were allowed, delivered by a dispatcher that refuses them:
    // by address literal, and by a name that resolves to loopback (checked at connect time).
    const r = await receiver([]);
    servers.push(r.server);
    const port = new URL(r.url).port;
    const strict = new WebhookDispatcher({
      store: t.store,
      masterKey,
      log: pino({ level: "silent" }),
      maxAttempts: 1,
      // Only the destination is under test here.
      allowHttp: true,
    });
    try {
      for (const url of [`http://127.0.0.1:${port}/hook`, `http://localhost:${port}/hook`]) {
        await t.store.run(`UPDATE webhooks SET active = 0`);
        const { webhook } = await createWebhook(t.store, masterKey, { url }, LAB);
        await t.store.transaction((tx) =>
          enqueueEvents(tx, [{ type: "finding.new", payload: () => ({ id: url }) }]),
        );
        strict.wake();
        await until(async () => (await listDeliveries(t.store, webhook.id))[0]?.status === "failed");
        const [delivery] = await listDeliveries(t.store, webhook.id);
        assert.match(delivery!.lastError ?? "", /not allowed/, url);
      }
      assert.equal(r.received.length, 0, "nothing reached the loopback receiver");
    } finally {
      await strict.stop();
    }
  });
});
