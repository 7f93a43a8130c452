import { BulwarkError } from "@bulwark/sdk/errors";
import { NOTICE_SEVERITIES, type NoticeSeverity } from "@bulwark/sdk/wire/user-notice";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Permission } from "../../access/permissions.ts";
import { productScope, requireProductGrant } from "../../access/principal.ts";
import type { KeyCustody } from "../../custody/key-custody.ts";
import type { Store } from "../../store/store.ts";
import { audited } from "../audited.ts";
import { productById } from "../product-source.ts";
import { eventAwareness, verifyAwarenessLog } from "./awareness-log.ts";
import { clocks, STAGES, type Stage } from "./clocks.ts";
import { buildDraft } from "./drafts.ts";
import {
  changeEvent,
  type EventChange,
  type EventStatus,
  eventById,
  listEvents,
  openEvent,
} from "./events.ts";
import type { UserNoticeDelivery } from "./notice-delivery.ts";
import { createNotice, deliveriesOf, noticeById, noticesOf } from "./notices.ts";
import { recordSubmission, submissionsOf, submittedStages } from "./submissions.ts";
import { userNotice } from "./user-notice.ts";
import { ensureAwarenessKey } from "./watcher.ts";

const ID = { type: "string", format: "uuid" } as const;
const EVENT = { type: "object", required: ["id"], properties: { id: ID } } as const;
const TEXT = (max: number) => ({ type: "string", minLength: 1, maxLength: max }) as const;
const TIME = { type: "string", format: "date-time" } as const;

const who = (request: FastifyRequest) => request.principal?.user.username ?? "unknown";

async function needEvent(store: Store, id: string) {
  const event = await eventById(store, id);
  if (!event) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such reportable event");
  return event;
}

/**
 * The routes' rules are `scoped` (CRA Annex I Part I (2)(d), least privilege): a role scoped to a
 * product reaches that product's events only, checked here once the event's product is known.
 */
async function eventFor(store: Store, request: FastifyRequest, permission: Permission, id: string) {
  const event = await needEvent(store, id);
  requireProductGrant(request.principal, permission, event.productId);
  return event;
}

/**
 * Article 14 reporting (issue #16 item 4): events, clocks, drafts, submissions, the awareness log,
 * and the Art. 14(8) notices to users sent to the devices in-band.
 */
export async function article14Routes(
  app: FastifyInstance,
  deps: {
    store: Store;
    custody: KeyCustody;
    wake: () => void;
    publicUrl: () => string;
    notices: UserNoticeDelivery;
  },
): Promise<void> {
  const { store, custody, wake, publicUrl } = deps;
  const key = () => ensureAwarenessKey(store, custody);
  const view = async (id: string, changed = false) => {
    if (changed) wake();
    const event = await needEvent(store, id);
    const submissions = await submissionsOf(store, id);
    return {
      ...event,
      clocks: clocks(event, submittedStages(submissions), Date.now()),
      submissions,
      awarenessLog: await eventAwareness(store, id),
    };
  };

  app.get<{ Querystring: { product?: string; status?: EventStatus } }>(
    "/api/v1/cra/reports",
    {
      config: { auth: { permission: "cra:read", scoped: true } },
      schema: {
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            product: ID,
            status: { type: "string", enum: ["candidate", "confirmed", "dismissed", "closed"] },
          },
        },
      },
    },
    async (request) => {
      const scope = productScope(request.principal, "cra:read");
      if (request.query.product) requireProductGrant(request.principal, "cra:read", request.query.product);
      const events = (
        await listEvents(store, { productId: request.query.product, status: request.query.status })
      ).filter((e) => scope === "all" || scope.includes(e.productId));
      const now = Date.now();
      const items = [];
      for (const e of events)
        items.push({ ...e, clocks: clocks(e, submittedStages(await submissionsOf(store, e.id)), now) });
      return { items };
    },
  );

  app.post<{
    Body: {
      productId: string;
      kind: "vulnerability" | "incident";
      vulnerability?: string;
      title: string;
      summary: string;
      awareAt?: string;
      maliciousSuspected?: boolean;
    };
  }>(
    "/api/v1/cra/reports",
    {
      config: { auth: { permission: "cra:report", scoped: true } },
      schema: {
        body: {
          type: "object",
          additionalProperties: false,
          required: ["productId", "kind", "title", "summary"],
          properties: {
            productId: ID,
            kind: { type: "string", enum: ["vulnerability", "incident"] },
            vulnerability: { type: "string", minLength: 1, maxLength: 64, pattern: "^[A-Za-z0-9._:-]+$" },
            title: TEXT(300),
            summary: TEXT(8000),
            awareAt: TIME,
            maliciousSuspected: { type: "boolean" },
          },
        },
      },
    },
    async (request, reply) => {
      const b = request.body;
      requireProductGrant(request.principal, "cra:report", b.productId);
      if (!(await productById(store, b.productId)))
        throw new BulwarkError("BW_ERR_NOT_FOUND", "no such product");
      if (b.kind === "vulnerability" && !b.vulnerability)
        throw new BulwarkError("BW_ERR_VALIDATION", "a vulnerability event names its vulnerability id");
      const awareAt = b.awareAt ? Date.parse(b.awareAt) : Date.now();
      if (awareAt > Date.now()) throw new BulwarkError("BW_ERR_VALIDATION", "awareAt is in the future");
      const { signer } = await key();
      const { event, created } = await audited(
        store,
        request,
        "cra.report.open",
        { type: "product", id: b.productId },
        (tx) =>
          openEvent(tx, signer, {
            productId: b.productId,
            kind: b.kind,
            vulnerability: b.vulnerability ?? null,
            title: b.title,
            summary: b.summary,
            trigger: "operator",
            status: "confirmed",
            awareAt,
            maliciousSuspected: b.maliciousSuspected ?? null,
          }),
      );
      reply.code(created ? 201 : 200);
      return view(event.id, true);
    },
  );

  app.get<{ Params: { id: string } }>(
    "/api/v1/cra/reports/:id",
    { config: { auth: { permission: "cra:read", scoped: true } }, schema: { params: EVENT } },
    async (request) => {
      await eventFor(store, request, "cra:read", request.params.id);
      return view(request.params.id);
    },
  );

  app.post<{
    Params: { id: string };
    Body: { type: string; reason?: string; measure?: string; at?: string; by?: string };
  }>(
    "/api/v1/cra/reports/:id/actions",
    {
      config: { auth: { permission: "cra:report", scoped: true } },
      schema: {
        params: EVENT,
        body: {
          type: "object",
          additionalProperties: false,
          required: ["type"],
          properties: {
            type: {
              type: "string",
              enum: ["confirm", "dismiss", "corrective-available", "intermediate-requested"],
            },
            reason: TEXT(2000),
            measure: TEXT(2000),
            by: TEXT(200),
            at: TIME,
          },
        },
      },
    },
    async (request) => {
      await eventFor(store, request, "cra:report", request.params.id);
      const b = request.body;
      const at = b.at ? Date.parse(b.at) : Date.now();
      const change: EventChange | undefined =
        b.type === "confirm"
          ? { type: "confirm" }
          : b.type === "dismiss" && b.reason
            ? { type: "dismiss", reason: b.reason }
            : b.type === "corrective-available" && b.measure
              ? { type: "corrective-available", at, measure: b.measure }
              : b.type === "intermediate-requested" && b.by
                ? { type: "intermediate-requested", at, by: b.by }
                : undefined;
      if (!change)
        throw new BulwarkError(
          "BW_ERR_VALIDATION",
          `${b.type} needs ${b.type === "dismiss" ? "reason" : b.type === "corrective-available" ? "measure" : "by"}`,
        );
      const { signer } = await key();
      await audited(
        store,
        request,
        `cra.report.${b.type}`,
        { type: "cra-report", id: request.params.id },
        (tx) => changeEvent(tx, signer, request.params.id, change, who(request)),
      );
      return view(request.params.id, true);
    },
  );

  app.get<{ Params: { id: string; stage: Stage } }>(
    "/api/v1/cra/reports/:id/drafts/:stage",
    {
      config: { auth: { permission: "cra:read", scoped: true } },
      schema: {
        params: {
          type: "object",
          required: ["id", "stage"],
          properties: { id: ID, stage: { type: "string", enum: [...STAGES] } },
        },
      },
    },
    async (request) =>
      buildDraft(store, await eventFor(store, request, "cra:read", request.params.id), request.params.stage),
  );

  app.post<{
    Params: { id: string };
    Body: { stage: Stage; csirt: string; reference: string; submittedAt?: string };
  }>(
    "/api/v1/cra/reports/:id/submissions",
    {
      config: { auth: { permission: "cra:report", scoped: true } },
      schema: {
        params: EVENT,
        body: {
          type: "object",
          additionalProperties: false,
          required: ["stage", "csirt", "reference"],
          properties: {
            stage: { type: "string", enum: [...STAGES] },
            csirt: TEXT(200),
            reference: TEXT(200),
            submittedAt: TIME,
          },
        },
      },
    },
    async (request, reply) => {
      const event = await eventFor(store, request, "cra:report", request.params.id);
      const draft = await buildDraft(store, event, request.body.stage);
      const { signer } = await key();
      const submittedAt = request.body.submittedAt ? Date.parse(request.body.submittedAt) : Date.now();
      await audited(
        store,
        request,
        "cra.report.submit",
        { type: "cra-report", id: event.id },
        (tx) =>
          recordSubmission(tx, signer, event, {
            stage: request.body.stage,
            csirt: request.body.csirt,
            reference: request.body.reference,
            submittedAt,
            submittedBy: who(request),
            draftSha256: draft.sha256,
          }),
        (s) => ({ stage: s.stage, csirt: s.csirt, reference: s.reference }),
      );
      reply.code(201);
      return view(event.id, true);
    },
  );

  app.get<{ Params: { id: string } }>(
    "/api/v1/cra/reports/:id/user-notice",
    { config: { auth: { permission: "cra:read", scoped: true } }, schema: { params: EVENT } },
    async (request) =>
      userNotice(store, await eventFor(store, request, "cra:read", request.params.id), publicUrl()),
  );

  // CRA Art. 14(8): send the notice to every device of the product running an affected version.
  app.post<{
    Params: { id: string };
    Body: { severity: NoticeSeverity; action?: string; text?: string; versions?: string[] };
  }>(
    "/api/v1/cra/reports/:id/user-notices",
    {
      config: { auth: { permission: "cra:report", scoped: true } },
      schema: {
        params: EVENT,
        body: {
          type: "object",
          additionalProperties: false,
          required: ["severity"],
          properties: {
            severity: { type: "string", enum: [...NOTICE_SEVERITIES] },
            action: TEXT(2000),
            text: TEXT(4000),
            versions: {
              type: "array",
              minItems: 1,
              maxItems: 50,
              items: { type: "string", minLength: 1, maxLength: 128, pattern: "^[^\\u0000-\\u001f]+$" },
            },
          },
        },
      },
    },
    async (request, reply) => {
      const event = await eventFor(store, request, "cra:report", request.params.id);
      const { signer } = await key();
      const notice = await audited(
        store,
        request,
        "cra.report.notify",
        { type: "cra-report", id: event.id },
        (tx) => createNotice(tx, signer, event, request.body, { publicUrl: publicUrl(), by: who(request) }),
        (n) => ({ notice: n.id, severity: n.severity, versions: n.versions, devices: n.deliveries.pending }),
      );
      // Committed first: a device that reconnects from here on gets it from its subscription too.
      const sent = await deps.notices.deliver(notice.id);
      reply.code(201);
      return { ...(await noticeById(store, notice.id))!, published: sent.published, online: sent.online };
    },
  );

  app.get<{ Params: { id: string } }>(
    "/api/v1/cra/reports/:id/user-notices",
    { config: { auth: { permission: "cra:read", scoped: true } }, schema: { params: EVENT } },
    async (request) => {
      const event = await eventFor(store, request, "cra:read", request.params.id);
      return { items: await noticesOf(store, event.id) };
    },
  );

  app.get<{ Params: { id: string; notice: string } }>(
    "/api/v1/cra/reports/:id/user-notices/:notice",
    {
      config: { auth: { permission: "cra:read", scoped: true } },
      schema: {
        params: { type: "object", required: ["id", "notice"], properties: { id: ID, notice: ID } },
      },
    },
    async (request) => {
      const event = await eventFor(store, request, "cra:read", request.params.id);
      const notice = await noticeById(store, request.params.notice);
      if (!notice || notice.eventId !== event.id)
        throw new BulwarkError("BW_ERR_NOT_FOUND", "no such notice for this event");
      return { ...notice, devices: await deliveriesOf(store, notice.id) };
    },
  );

  // The awareness log is one chain over every product's events: verifying it needs a global grant.
  app.get("/api/v1/cra/awareness-log/verify", { config: { auth: { permission: "cra:read" } } }, async () => {
    const { publicKey } = await key();
    return {
      ...(await verifyAwarenessLog(store, publicKey)),
      publicKey: publicKey.export({ type: "spki", format: "pem" }),
    };
  });
}
