import { BulwarkError } from "@bulwark/sdk/errors";
import type { FastifyInstance } from "fastify";
import { appendAudit } from "../../audit/audit-log.ts";
import type { KeyCustody } from "../../custody/key-custody.ts";
import type { Store } from "../../store/store.ts";
import { openEvent } from "../article14/events.ts";
import { ensureAwarenessKey } from "../article14/watcher.ts";
import { audited } from "../audited.ts";
import { productById } from "../product-source.ts";
import {
  INTAKE_STATES,
  type IntakeInput,
  type IntakeState,
  intakeReport,
  listIntake,
  moveReport,
  receiveReport,
} from "./intake.ts";
import { nextExpiry, securityTxt } from "./security-txt.ts";
import {
  type DisclosureSettings,
  disclosureSettings,
  REFRESH_BEFORE_MS,
  refreshExpiry,
  saveDisclosureSettings,
} from "./settings.ts";
import { signedSecurityTxt } from "./signed-security-txt.ts";

/** Per client address: a few reports per ten minutes (a flood gets 429 BW_ERR_RATE_LIMITED). */
export const INTAKE_RATE = { max: 5, timeWindow: 10 * 60_000, groupId: "cra-intake" };
/** A report is text: 32 KiB is plenty, and caps what one address can make us store. */
export const INTAKE_BODY_LIMIT = 32 * 1024;
const PUBLIC_RATE = { max: 120, timeWindow: 60_000, groupId: "cra-public" };

const TEXT = (max: number) => ({ type: "string", minLength: 1, maxLength: max }) as const;
const CONTACT = { type: "string", maxLength: 500, pattern: "^(mailto:|https://)\\S+$" } as const;
const ID_PARAMS = {
  type: "object",
  required: ["id"],
  properties: { id: { type: "string", format: "uuid" } },
} as const;

export interface DisclosureDeps {
  store: Store;
  custody: KeyCustody;
  publicUrl: () => string;
  csafProviderMetadata: () => Promise<string | null>;
  /** Makes an OpenPGP cleartext signature with the CSAF signing key (CSAF 2.0 §7.1.20's key). */
  signSecurityTxt: (text: string, settings: DisclosureSettings) => Promise<string>;
}

/** security.txt, the CVD policy page and the public intake (issue #16 item 6; Annex I Part II (5), (6)). */
export async function disclosureRoutes(app: FastifyInstance, deps: DisclosureDeps): Promise<void> {
  const { store } = deps;
  const published = async () => {
    const s = await disclosureSettings(store);
    if (!s) throw new BulwarkError("BW_ERR_NOT_FOUND", "no security contact is published");
    // RFC 9116 §2.5.5: kept fresh without an operator saving again (a signed file is re-signed
    // by `served`, whose text then differs).
    if (s.expiresAt - Date.now() >= REFRESH_BEFORE_MS) return s;
    return store.transaction(async (tx) => {
      const { settings, refreshed } = await refreshExpiry(tx, s, Date.now(), nextExpiry);
      if (refreshed)
        await appendAudit(tx, {
          actor: { type: "system" },
          action: "cra.disclosure.expires-refresh",
          target: { type: "settings", id: "cra.disclosure" },
          outcome: "success",
          details: {
            from: new Date(s.expiresAt).toISOString(),
            to: new Date(settings.expiresAt).toISOString(),
          },
        });
      return settings;
    });
  };

  // The file as served: signed (RFC 9116 §2.3) when the setting asks, re-signed when its text changed.
  const served = async (s: DisclosureSettings) => {
    const text = securityTxt(s, {
      base: deps.publicUrl(),
      csafProviderMetadata: await deps.csafProviderMetadata(),
    });
    return s.signed ? signedSecurityTxt(store, text, (t) => deps.signSecurityTxt(t, s)) : text;
  };

  // RFC 9116 §3: served at /.well-known/security.txt as text/plain; charset=utf-8.
  app.get(
    "/.well-known/security.txt",
    { config: { auth: { public: true }, rateLimit: PUBLIC_RATE } },
    async (_r, reply) => {
      const text = await served(await published());
      reply.type("text/plain; charset=utf-8");
      return text;
    },
  );

  app.get(
    "/security/policy",
    { config: { auth: { public: true }, rateLimit: PUBLIC_RATE } },
    async (_r, reply) => {
      const s = await published();
      if (!s.policy) throw new BulwarkError("BW_ERR_NOT_FOUND", "no CVD policy is published");
      reply.type("text/plain; charset=utf-8");
      return s.policy;
    },
  );

  app.get(
    "/security/encryption-key",
    { config: { auth: { public: true }, rateLimit: PUBLIC_RATE } },
    async (_r, reply) => {
      const s = await published();
      if (!s.encryptionKey) throw new BulwarkError("BW_ERR_NOT_FOUND", "no encryption key is published");
      reply.type("application/pgp-keys");
      return s.encryptionKey;
    },
  );

  app.get(
    "/api/v1/cra/disclosure",
    { config: { auth: { permission: "cra:read" } } },
    async () => (await disclosureSettings(store)) ?? null,
  );

  app.put<{ Body: Omit<DisclosureSettings, "expiresAt" | "updatedAt"> }>(
    "/api/v1/cra/disclosure",
    {
      config: { auth: { permission: "cra:write" } },
      schema: {
        body: {
          type: "object",
          additionalProperties: false,
          required: ["contact", "policy", "preferredLanguages", "intakeEnabled", "encryptionKey"],
          properties: {
            contact: { type: "array", minItems: 1, maxItems: 10, items: CONTACT },
            policy: { anyOf: [TEXT(64 * 1024), { type: "null" }] },
            preferredLanguages: {
              type: "array",
              maxItems: 10,
              items: { type: "string", pattern: "^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$" },
            },
            intakeEnabled: { type: "boolean" },
            signed: { type: "boolean" },
            encryptionKey: {
              anyOf: [
                { type: "string", maxLength: 64 * 1024, pattern: "^-----BEGIN PGP PUBLIC KEY BLOCK-----" },
                { type: "null" },
              ],
            },
          },
        },
      },
    },
    async (request) => {
      const now = Date.now();
      // RFC 9116 §2.5.5: Expires less than a year ahead; each save refreshes it.
      const settings: DisclosureSettings = {
        ...request.body,
        signed: request.body.signed ?? false,
        expiresAt: nextExpiry(now),
        updatedAt: now,
      };
      await audited(
        store,
        request,
        "cra.disclosure.update",
        { type: "settings", id: "cra.disclosure" },
        (tx) => saveDisclosureSettings(tx, settings),
        () => ({ contact: settings.contact, intakeEnabled: settings.intakeEnabled, signed: settings.signed }),
      );
      // RFC 9116 §2.3: the new text (new fields, refreshed Expires) is signed now, not at first read.
      if (settings.signed) await served(settings);
      return settings;
    },
  );

  app.post<{ Body: IntakeInput }>(
    "/api/v1/cra/intake",
    {
      bodyLimit: INTAKE_BODY_LIMIT,
      config: { auth: { public: true }, rateLimit: INTAKE_RATE },
      schema: {
        body: {
          type: "object",
          additionalProperties: false,
          required: ["title", "description"],
          properties: {
            title: TEXT(300),
            description: TEXT(24 * 1024),
            product: TEXT(200),
            contact: CONTACT,
            encrypted: { type: "boolean" },
          },
        },
      },
    },
    async (request, reply) => {
      const settings = await disclosureSettings(store);
      if (!settings?.intakeEnabled)
        throw new BulwarkError("BW_ERR_UNAVAILABLE", "the intake is not accepting reports");
      const report = await store.transaction(async (tx) => {
        const stored = await receiveReport(tx, request.body);
        await appendAudit(tx, {
          actor: { type: "anonymous" },
          action: "cra.intake.receive",
          target: { type: "intake-report", id: stored.id },
          outcome: "success",
          details: { remoteAddress: request.ip, encrypted: stored.encrypted, bytes: stored.body.length },
        });
        return stored;
      });
      reply.code(202);
      return {
        confirmationId: report.id,
        state: report.state,
        receivedAt: new Date(report.receivedAt).toISOString(),
      };
    },
  );

  // The reporter follows up with the confirmation id (an unguessable UUID): state only, no content.
  app.get<{ Params: { id: string } }>(
    "/api/v1/cra/intake/:id/status",
    { config: { auth: { public: true }, rateLimit: PUBLIC_RATE }, schema: { params: ID_PARAMS } },
    async (request) => {
      const report = await intakeReport(store, request.params.id);
      if (!report) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such report");
      return {
        confirmationId: report.id,
        state: report.state,
        updatedAt: new Date(report.updatedAt).toISOString(),
      };
    },
  );

  app.get<{ Querystring: { state?: IntakeState } }>(
    "/api/v1/cra/intake",
    {
      config: { auth: { permission: "cra:report" } },
      schema: {
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: { state: { type: "string", enum: [...INTAKE_STATES] } },
        },
      },
    },
    async (request) => ({ items: await listIntake(store, request.query.state) }),
  );

  app.post<{
    Params: { id: string };
    Body: {
      state: IntakeState;
      note?: string;
      escalate?: { productId: string; vulnerability?: string; title: string };
    };
  }>(
    "/api/v1/cra/intake/:id/state",
    {
      config: { auth: { permission: "cra:report" } },
      schema: {
        params: ID_PARAMS,
        body: {
          type: "object",
          additionalProperties: false,
          required: ["state"],
          properties: {
            state: { type: "string", enum: [...INTAKE_STATES] },
            note: TEXT(2000),
            escalate: {
              type: "object",
              additionalProperties: false,
              required: ["productId", "title"],
              properties: {
                productId: { type: "string", format: "uuid" },
                vulnerability: { type: "string", minLength: 1, maxLength: 64, pattern: "^[A-Za-z0-9._:-]+$" },
                title: TEXT(300),
              },
            },
          },
        },
      },
    },
    async (request) => {
      const { state, note, escalate } = request.body;
      if (escalate && state !== "accepted")
        throw new BulwarkError("BW_ERR_VALIDATION", "only an accepted report is escalated");
      if (escalate && !(await productById(store, escalate.productId)))
        throw new BulwarkError("BW_ERR_NOT_FOUND", "no such product");
      const signer = escalate ? (await ensureAwarenessKey(store, deps.custody)).signer : undefined;
      return audited(
        store,
        request,
        `cra.intake.${state}`,
        { type: "intake-report", id: request.params.id },
        async (tx) => {
          const report = await intakeReport(tx, request.params.id);
          if (!report) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such intake report");
          // CRA Art. 14: awareness dates from the report's receipt, not from its triage.
          const event = escalate
            ? (
                await openEvent(tx, signer!, {
                  productId: escalate.productId,
                  kind: escalate.vulnerability ? "vulnerability" : "incident",
                  vulnerability: escalate.vulnerability ?? null,
                  title: escalate.title,
                  summary: report.encrypted
                    ? "reported through the intake (encrypted report)"
                    : report.body.slice(0, 2000),
                  trigger: "intake",
                  status: "candidate",
                  awareAt: report.receivedAt,
                  details: { intakeReport: report.id },
                })
              ).event
            : undefined;
          return moveReport(tx, report.id, state, note ?? null, event?.id ?? null);
        },
      );
    },
  );
}
