import { SECURITY_EVENT_KINDS } from "@bulwark/sdk/wire/reports";
import type { FastifyInstance } from "fastify";
import { listSecurityEvents, type StoredEventKind } from "../audit/device-events.ts";
import type { Store } from "../store/store.ts";

interface EventQuery {
  device?: string;
  kind?: StoredEventKind;
  since?: string;
  limit?: number;
  offset?: number;
}

/** `GET /api/v1/security-events`: device security events (CRA Annex I Part I (2)(l)), newest first. */
export function securityEventRoutes(store: Store) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get<{ Querystring: EventQuery }>(
      "/api/v1/security-events",
      {
        config: { auth: { permission: "security-events:read" } },
        schema: {
          querystring: {
            type: "object",
            additionalProperties: false,
            properties: {
              device: { type: "string", format: "uuid" },
              kind: {
                type: "string",
                enum: [...SECURITY_EVENT_KINDS, "logging-opted-out", "logging-opted-in"],
              },
              since: { type: "string", format: "date-time" },
              limit: { type: "integer", minimum: 1, maximum: 1000 },
              offset: { type: "integer", minimum: 0 },
            },
          },
        },
      },
      async (request) => {
        const q = request.query;
        const limit = q.limit ?? 100;
        const offset = q.offset ?? 0;
        const page = await listSecurityEvents(store, {
          deviceId: q.device,
          kind: q.kind,
          since: q.since ? Date.parse(q.since) : undefined,
          limit,
          offset,
        });
        return { ...page, limit, offset };
      },
    );
  };
}
