import type { FastifyInstance } from "fastify";
import { auditedChange } from "../audit/audited-change.ts";
import type { Store } from "../store/store.ts";
import type { WebhookPolicy } from "./webhooks/destination.ts";
import type { WebhookEventRegistry } from "./webhooks/events.ts";
import { createWebhook, listDeliveries, listWebhooks, type WebhookEvent } from "./webhooks/webhooks.ts";

export function webhookRoutes(
  store: Store,
  masterKey: Buffer,
  policy: WebhookPolicy,
  events: WebhookEventRegistry,
) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    // The event list is read when the routes are registered: every domain has added its events by then.
    const known = events.list();
    app.get("/api/v1/webhooks", { config: { auth: { permission: "webhooks:manage" } } }, async () => ({
      items: await listWebhooks(store),
    }));

    app.post<{ Body: { url: string; events?: WebhookEvent[] } }>(
      "/api/v1/webhooks",
      {
        config: { auth: { permission: "webhooks:manage" } },
        schema: {
          body: {
            type: "object",
            additionalProperties: false,
            required: ["url"],
            properties: {
              url: { type: "string", minLength: 8, maxLength: 2048 },
              events: { type: "array", maxItems: 10, items: { type: "string", enum: known } },
            },
          },
        },
      },
      async (request, reply) => {
        const created = await auditedChange(
          store,
          request,
          (tx) => createWebhook(tx, masterKey, request.body, policy, known),
          ({ webhook }) => ({
            action: "webhook.create",
            target: { type: "webhook", id: webhook.id },
            details: { url: webhook.url, events: webhook.events },
          }),
        );
        reply.code(201);
        // The secret is shown once; only its sealed form is stored.
        return { ...created.webhook, secret: created.secret };
      },
    );

    app.get<{ Params: { id: string } }>(
      "/api/v1/webhooks/:id/deliveries",
      {
        config: { auth: { permission: "webhooks:manage" } },
        schema: {
          params: {
            type: "object",
            properties: { id: { type: "string", format: "uuid" } },
            required: ["id"],
          },
        },
      },
      async (request) => ({ items: await listDeliveries(store, request.params.id) }),
    );
  };
}
