import { BulwarkError } from "@bulwark/sdk/errors";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { auditedChange, type ChangeRecord } from "../audit/audited-change.ts";
import type { Principal } from "../http/auth.ts";
import { RATE_LIMITS } from "../http/rate-limits.ts";
import type { Store } from "../store/store.ts";
import type { SecretBox } from "./secret-box.ts";
import {
  authenticateSession,
  csrfTokenFor,
  listSessions,
  revokeAllSessions,
  revokeSession,
  SESSION_ABSOLUTE_MS,
  SESSION_COOKIE,
} from "./sessions.ts";
import { signInWithPassword } from "./sign-in.ts";

const ID_PARAMS = { type: "object", properties: { id: { type: "string", format: "uuid" } } } as const;

/** RFC 6265bis §4.1.3.2: a `__Host-` cookie must be Secure, Path=/ and carry no Domain. */
export function setSessionCookie(reply: FastifyReply, token: string): void {
  reply.setCookie(SESSION_COOKIE, token, {
    path: "/",
    secure: true,
    httpOnly: true,
    sameSite: "strict",
    maxAge: SESSION_ABSOLUTE_MS / 1000,
  });
}

const clearSessionCookie = (reply: FastifyReply) =>
  reply.clearCookie(SESSION_COOKIE, { path: "/", secure: true, httpOnly: true, sameSite: "strict" });

export const userView = (principal: Principal) => ({
  id: principal.user.id,
  username: principal.user.username,
  role: principal.user.role,
  grants: principal.grants.map((g) => ({
    role: g.role,
    productId: g.productId,
    permissions: [...g.permissions],
  })),
});

/** A session cookie presented at sign-in is ended, never promoted: no session fixation. */
export async function endPresentedSession(store: Store, request: FastifyRequest): Promise<void> {
  const presented = request.cookies[SESSION_COOKIE];
  const old = presented ? await authenticateSession(store, presented) : undefined;
  if (old) await revokeSession(store, old.userId, old.id);
}

export function sessionRoutes(store: Store, box: SecretBox) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.post<{ Body: { username: string; password: string; code?: string; recoveryCode?: string } }>(
      "/api/v1/sessions",
      {
        config: { auth: { public: true }, rateLimit: RATE_LIMITS.signIn },
        schema: {
          body: {
            type: "object",
            additionalProperties: false,
            required: ["username", "password"],
            properties: {
              username: { type: "string", minLength: 1, maxLength: 100 },
              password: { type: "string", minLength: 1, maxLength: 1024 },
              code: { type: "string", pattern: "^[0-9]{6}$" },
              recoveryCode: { type: "string", minLength: 10, maxLength: 20 },
            },
          },
        },
      },
      async (request, reply) => {
        await endPresentedSession(store, request);
        const signedIn = await signInWithPassword(store, box, request.body, {
          remoteAddress: request.ip,
          userAgent: request.headers["user-agent"],
        });
        setSessionCookie(reply, signedIn.token);
        request.log.info({ userId: signedIn.user.id, sessionId: signedIn.session.id }, "signed in");
        reply.code(201);
        return {
          session: signedIn.session,
          csrfToken: csrfTokenFor(signedIn.token),
          user: { id: signedIn.user.id, username: signedIn.user.username, role: signedIn.user.role },
          mustChangePassword: signedIn.user.mustChangePassword,
        };
      },
    );

    app.get("/api/v1/sessions/current", { config: { auth: { signedIn: true } } }, async (request) => {
      const principal = request.principal!;
      return {
        kind: principal.kind,
        sessionId: principal.sessionId ?? null,
        csrfToken: request.sessionToken ? csrfTokenFor(request.sessionToken) : null,
        restriction: principal.restriction,
        user: userView(principal),
      };
    });

    app.delete(
      "/api/v1/sessions/current",
      { config: { auth: { signedIn: true } } },
      async (request, reply) => {
        const principal = sessionPrincipal(request);
        await auditedChange(
          store,
          request,
          (tx) => revokeSession(tx, principal.user.id, principal.sessionId!),
          onSession("auth.sign-out", principal.sessionId!),
        );
        clearSessionCookie(reply);
        reply.code(204);
      },
    );

    app.get("/api/v1/sessions", { config: { auth: { signedIn: true } } }, async (request) => ({
      items: await listSessions(store, request.principal!.user.id),
    }));

    app.delete<{ Params: { id: string } }>(
      "/api/v1/sessions/:id",
      { config: { auth: { signedIn: true } }, schema: { params: ID_PARAMS } },
      async (request, reply) => {
        const principal = request.principal!;
        await auditedChange(
          store,
          request,
          (tx) => revokeSession(tx, principal.user.id, request.params.id),
          onSession("session.revoke", request.params.id),
        );
        reply.code(204);
      },
    );

    app.delete("/api/v1/sessions", { config: { auth: { signedIn: true } } }, async (request, reply) => {
      const principal = request.principal!;
      const revoked = await auditedChange(
        store,
        request,
        (tx) => revokeAllSessions(tx, principal.user.id),
        (n) => ({ ...onSession("session.revoke-all", principal.user.id), details: { revoked: n } }),
      );
      clearSessionCookie(reply);
      return { revoked };
    });

    app.delete<{ Params: { id: string } }>(
      "/api/v1/users/:id/sessions",
      { config: { auth: { permission: "sessions:manage" } }, schema: { params: ID_PARAMS } },
      async (request) => {
        const revoked = await auditedChange(
          store,
          request,
          (tx) => revokeAllSessions(tx, request.params.id),
          (n) => ({
            action: "session.revoke-all",
            target: { type: "user", id: request.params.id },
            details: { revoked: n },
          }),
        );
        return { revoked };
      },
    );
  };
}

function sessionPrincipal(request: FastifyRequest): Principal {
  const principal = request.principal!;
  if (principal.kind !== "session")
    throw new BulwarkError("BW_ERR_VALIDATION", "this request is not made with a session cookie");
  return principal;
}

/** The audit record of a change to one session (or, for revoke-all, its user's sessions). */
const onSession = (action: string, id: string): ChangeRecord => ({ action, target: { type: "session", id } });
