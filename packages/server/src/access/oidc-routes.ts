import { BulwarkError } from "@bulwark/sdk/errors";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { appendAudit } from "../audit/audit-log.ts";
import { auditedChange } from "../audit/audited-change.ts";
import { notify } from "../audit/notifications.ts";
import { RATE_LIMITS } from "../http/rate-limits.ts";
import type { Store } from "../store/store.ts";
import { assertMayConfer } from "./escalation.ts";
import {
  beginOidcLogin,
  completeOidcLogin,
  type OidcSettings,
  oidcSettings,
  saveOidcSettings,
} from "./oidc.ts";
import { consoleReturnPath, redirectToConsole, sendProblemPage, wantsJson } from "./oidc-browser.ts";
import { ROLES } from "./permissions.ts";
import type { SecretBox } from "./secret-box.ts";
import { endPresentedSession, setSessionCookie } from "./session-routes.ts";
import { createSession, csrfTokenFor } from "./sessions.ts";
import { upsertOidcUser } from "./users.ts";

const SETTINGS_SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["issuer", "clientId", "clientSecret", "redirectUri", "groupRoles"],
  properties: {
    issuer: { type: "string", pattern: "^https://", maxLength: 500 },
    clientId: { type: "string", minLength: 1, maxLength: 200 },
    clientSecret: { type: "string", minLength: 1, maxLength: 500 },
    redirectUri: { type: "string", pattern: "^https://", maxLength: 500 },
    scopes: { type: "string", maxLength: 200 },
    groupsClaim: { type: "string", minLength: 1, maxLength: 100 },
    groupRoles: {
      type: "array",
      maxItems: 100,
      items: {
        type: "object",
        additionalProperties: false,
        required: ["group", "role"],
        properties: {
          group: { type: "string", minLength: 1, maxLength: 200 },
          role: { type: "string", enum: [...ROLES] },
        },
      },
    },
    caPem: { anyOf: [{ type: "string", maxLength: 100_000 }, { type: "null" }] },
  },
} as const;

type SettingsBody = Omit<OidcSettings, "scopes" | "groupsClaim" | "caPem"> &
  Partial<Pick<OidcSettings, "scopes" | "groupsClaim" | "caPem">> & { clientSecret: string };

export function oidcRoutes(store: Store, box: SecretBox) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get("/api/v1/oidc/config", { config: { auth: { permission: "users:read" } } }, async () => {
      const settings = await oidcSettings(store);
      if (!settings) throw new BulwarkError("BW_ERR_NOT_FOUND", "OpenID Connect sign-in is not configured");
      return settings;
    });

    app.put<{ Body: SettingsBody }>(
      "/api/v1/oidc/config",
      { config: { auth: { permission: "auth-settings:manage" } }, schema: { body: SETTINGS_SCHEMA } },
      async (request) => {
        const body = request.body;
        // A group mapping gives its role to whoever the provider says is in the group: no mapping
        // may give a role the configuring principal does not hold itself.
        for (const mapping of body.groupRoles) assertMayConfer(request.principal!.grants, mapping.role);
        const settings = {
          ...body,
          scopes: body.scopes ?? "openid profile groups",
          groupsClaim: body.groupsClaim ?? "groups",
          caPem: body.caPem ?? null,
        };
        await auditedChange(store, request, (tx) => saveOidcSettings(tx, box, settings), {
          action: "policy.oidc-change",
          target: { type: "policy", id: "oidc" },
          details: { issuer: settings.issuer, clientId: settings.clientId, groupRoles: settings.groupRoles },
        });
        return oidcSettings(store);
      },
    );

    app.get<{ Querystring: { returnTo?: string } }>(
      "/api/v1/oidc/login",
      {
        config: { auth: { public: true }, rateLimit: RATE_LIMITS.signIn },
        schema: {
          querystring: {
            type: "object",
            additionalProperties: false,
            properties: { returnTo: { type: "string", maxLength: 1000 } },
          },
        },
      },
      async (request, reply) => {
        const url = await beginOidcLogin(store, box, consoleReturnPath(request.query.returnTo));
        return reply.redirect(url.href, 302);
      },
    );

    // A browser comes back here from the provider: it is sent on to the console with the session
    // cookie (303), or shown a problem page; an API client asking for JSON gets JSON.
    app.get(
      "/api/v1/oidc/callback",
      { config: { auth: { public: true }, rateLimit: RATE_LIMITS.signIn } },
      async (request, reply) => {
        const api = wantsJson(request);
        let signedIn: Awaited<ReturnType<typeof signIn>>;
        try {
          signedIn = await signIn(store, box, request);
        } catch (error) {
          if (api) throw error;
          // The internal cause goes to the log only, as for problem+json answers.
          const problem =
            error instanceof BulwarkError
              ? error
              : new BulwarkError("BW_ERR_INTERNAL", undefined, { cause: error });
          if (problem.status >= 500)
            request.log.error({ err: error, code: problem.code }, "OIDC sign-in failed");
          else request.log.info({ code: problem.code, reason: problem.message }, "OIDC sign-in refused");
          return sendProblemPage(reply, problem);
        }
        // Nothing after this point can fail: a refused callback never sets the cookie.
        setSessionCookie(reply, signedIn.token);
        if (!api) return redirectToConsole(reply, signedIn.returnTo);
        return {
          session: signedIn.session,
          csrfToken: csrfTokenFor(signedIn.token),
          user: { id: signedIn.user.id, username: signedIn.user.username, role: signedIn.role },
        };
      },
    );
  };
}

/** The callback's steps: provider answer checked, group mapped, local account and session made. */
async function signIn(store: Store, box: SecretBox, request: FastifyRequest) {
  const query = request.url.includes("?") ? request.url.slice(request.url.indexOf("?") + 1) : "";
  const { identity, returnTo: storedReturnTo } = await completeOidcLogin(store, box, query).catch(
    async (error: unknown) => {
      await refused(store, request.ip, "provider-refused", undefined);
      throw error;
    },
  );
  // Checked at login start, and again before any session exists (a login begun by an older
  // version may hold a path it let through): a refused path opens no session and sets no cookie.
  let returnTo: string | undefined;
  try {
    returnTo = consoleReturnPath(storedReturnTo);
  } catch (error) {
    await refused(store, request.ip, "return-path-refused", identity.subject);
    throw error;
  }
  const role = identity.role;
  if (!role) {
    await refused(store, request.ip, "no-mapped-group", identity.subject);
    throw new BulwarkError("BW_ERR_FORBIDDEN", "none of your groups is mapped to a Bulwark role");
  }
  // A session cookie presented here is ended, never kept alongside: no session fixation.
  await endPresentedSession(store, request);
  const signedIn = await store.transaction(async (tx) => {
    const user = await upsertOidcUser(tx, { subject: identity.subject, username: identity.username, role });
    const created = await createSession(tx, {
      userId: user.id,
      via: "oidc",
      remoteAddress: request.ip,
      userAgent: request.headers["user-agent"],
    });
    await appendAudit(tx, {
      actor: { type: "user", id: user.id },
      action: "auth.sign-in",
      target: { type: "session", id: created.session.id },
      outcome: "success",
      details: { via: "oidc", role, groups: identity.groups, remoteAddress: request.ip },
    });
    return { ...created, user };
  });
  return { ...signedIn, role, returnTo };
}

async function refused(store: Store, remoteAddress: string, reason: string, subject: string | undefined) {
  await store.transaction(async (tx) => {
    const details = { via: "oidc", reason, subject, remoteAddress };
    await appendAudit(tx, {
      actor: { type: "anonymous" },
      action: "auth.sign-in",
      outcome: "failure",
      details,
    });
    await notify(tx, {
      kind: "oidc-refused",
      severity: "warning",
      message: `OpenID Connect sign-in refused (${reason})`,
      details,
    });
  });
}
