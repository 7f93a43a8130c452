import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { verifyWebhookSignature } from "@bulwark/sdk/signing/webhook";
import pino from "pino";
import { tempStore } from "../../../test/store-fixtures.ts";
import { FileKeyCustody } from "../../custody/file-key-custody.ts";
import { createProduct } from "../../products/products.ts";
import { WebhookDispatcher } from "../../software/webhooks/dispatcher.ts";
import { WebhookEventRegistry } from "../../software/webhooks/events.ts";
import { createWebhook, listDeliveries } from "../../software/webhooks/webhooks.ts";
import { openEvent } from "./events.ts";
import { ensureAwarenessKey, sendReminders } from "./watcher.ts";
import { ARTICLE14_WEBHOOK_EVENTS } from "./webhook-events.ts";

const H = 3600_000;

/** CRA Art. 14 reminders reach the signed webhooks, once per event, stage and threshold. */
describe("Article 14 reminders through webhooks", () => {
  let t: Awaited<ReturnType<typeof tempStore>>;
  let custody: FileKeyCustody;
  let server: Server;
  let dispatcher: WebhookDispatcher;
  const masterKey = randomBytes(32);
  const received: { event: string; body: string; signature: string }[] = [];
  let url = "";
  let productId = "";
  const open = async (title: string, awareAt: number) => {
    const { signer } = await ensureAwarenessKey(t.store, custody);
    return (
      await t.store.transaction((tx) =>
        openEvent(tx, signer, {
          productId,
          kind: "incident",
          vulnerability: null,
          title,
          summary: "s",
          trigger: "operator",
          status: "confirmed",
          awareAt,
        }),
      )
    ).event;
  };

  before(async () => {
    t = await tempStore();
    custody = new FileKeyCustody({ dir: join(t.dir, "keys"), masterKey });
    productId = (await createProduct(t.store, "router")).id;
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        received.push({
          event: String(req.headers["bulwark-event"]),
          body: Buffer.concat(chunks).toString("utf8"),
          signature: String(req.headers["bulwark-signature"]),
        });
        res.statusCode = 204;
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    dispatcher = new WebhookDispatcher({
      store: t.store,
      masterKey,
      log: pino({ level: "silent" }),
      allowLocal: true,
      allowHttp: true,
    });
  });
  after(async () => {
    server.close();
    await dispatcher.stop();
    await t.close();
  });

  it("the registry takes the CRA events; a webhook cannot subscribe to an unregistered one", async () => {
    const registry = new WebhookEventRegistry();
    await assert.rejects(
      createWebhook(t.store, masterKey, { url, events: ["cra.report.reminder"] }, LAB, registry.list()),
      { code: "BW_ERR_VALIDATION", message: /unknown webhook events: cra\.report\.reminder/ },
    );
    registry.register(...ARTICLE14_WEBHOOK_EVENTS);
    assert.throws(() => registry.register("Not An Event"), /not a webhook event name/);
    assert.deepEqual(registry.list().slice(-2), ["cra.report.reminder", "cra.report.overdue"]);
    const { webhook } = await createWebhook(t.store, masterKey, { url }, LAB, registry.list());
    assert.ok(webhook.events.includes("cra.report.overdue"), "no list: every registered event");
  });

  it("raises a signed cra.report.reminder 6 h before a deadline and cra.report.overdue after it, each once", async () => {
    const secret = (
      await createWebhook(t.store, masterKey, { url, events: [...ARTICLE14_WEBHOOK_EVENTS] }, LAB, [
        ...ARTICLE14_WEBHOOK_EVENTS,
      ])
    ).secret;
    const now = Date.now();
    const soon = await open("Early warning due within 6 hours", now - 20 * H);
    const first = await sendReminders(t.store, now);
    assert.equal(first.sent, 1);
    assert.equal(first.deliveries, 2, "one per subscribed webhook (the two of this test)");
    assert.deepEqual(await sendReminders(t.store, now), { sent: 0, deliveries: 0 }, "raised once");
    // Past the deadline: the overdue stage is a new reminder; the 6 h one is not raised again.
    const late = await sendReminders(t.store, now + 5 * H);
    assert.equal(late.sent, 1);
    dispatcher.wake();
    const mine = () =>
      received.filter((r) => r.signature && verifyWebhookSignature(secret, r.signature, r.body));
    // Both webhooks of this suite take the CRA events: four deliveries in all, two signed with this secret.
    const all = async () => {
      const hooks = await t.store.all<{ id: string }>(`SELECT id FROM webhooks`);
      return (await Promise.all(hooks.map((h) => listDeliveries(t.store, h.id)))).flat();
    };
    await waitUntil(async () => {
      const deliveries = await all();
      return deliveries.length === 4 && deliveries.every((d) => d.status === "delivered");
    });
    assert.equal(mine().length, 2);
    const bodies = mine()
      .map((r) => ({
        event: r.event,
        body: JSON.parse(r.body) as { type: string; data: Record<string, unknown> },
      }))
      .sort((a, b) => a.event.localeCompare(b.event));
    assert.deepEqual(
      bodies.map((b) => [
        b.event,
        b.body.type,
        b.body.data.stage,
        b.body.data.threshold,
        b.body.data.eventId,
      ]),
      [
        ["cra.report.overdue", "cra.report.overdue", "early-warning", "overdue", soon.id],
        ["cra.report.reminder", "cra.report.reminder", "early-warning", "6h", soon.id],
      ],
    );
    assert.equal(received.length, 4);
  });
});

const LAB = { allowLocal: true, allowHttp: true };

async function waitUntil(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}
