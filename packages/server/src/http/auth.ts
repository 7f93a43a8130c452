import { BulwarkError } from "@bulwark/sdk/errors";
import type { FastifyInstance, FastifyRequest, RouteOptions } from "fastify";
import { authenticateApiKey } from "../access/api-keys.ts";
import { type Permission, type Role, roleAllows } from "../access/permissions.ts";
import { checkPassword, type User, userById } from "../access/users.ts";
import { type AuditEntry, appendAudit } from "../audit/audit-log.ts";
import type { Store } from "../store/store.ts";

/**
 * Every route declares who may call it: `public`, a `permission` (an API key whose role grants
 * it), or additionally `password` (HTTP Basic with the account password, for the few account
 * operations a first-run admin needs before holding a key).
 */
export type RouteAuth =
  | { public: true }
  | { permission: Permission; allowPassword?: boolean }
  | { password: true };

export interface Principal {
  kind: "api-key" | "password";
  user: User;
  role: Role;
  apiKeyId?: string;
}

declare module "fastify" {
  interface FastifyContextConfig {
    auth?: RouteAuth;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/** The audit actor for a principal. */
export function actorOf(principal: Principal | null): AuditEntry["actor"] {
  if (!principal) return { type: "anonymous" };
  return principal.kind === "api-key"
    ? { type: "api-key", id: principal.apiKeyId }
    : { type: "user", id: principal.user.id };
}

/** Refuses to register any route that has no access rule. */
export function requireRouteAuth(app: FastifyInstance): void {
  app.addHook("onRoute", (route: RouteOptions) => {
    const auth = (route.config as { auth?: RouteAuth } | undefined)?.auth;
    if (!auth) throw new Error(`route ${route.method} ${route.url} has no access rule (config.auth)`);
  });
}

function parseBasic(header: string): { username: string; password: string } | undefined {
  const decoded = Buffer.from(header.slice(6).trim(), "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

async function principalOf(
  store: Store,
  request: FastifyRequest,
  auth: RouteAuth,
): Promise<Principal | null> {
  const header = request.headers.authorization ?? "";
  if (/^Bearer /i.test(header)) {
    const key = await authenticateApiKey(store, header.slice(7).trim());
    if (!key) throw new BulwarkError("BW_ERR_UNAUTHENTICATED", "the API key is not valid");
    const user = await userById(store, key.ownerId);
    if (!user) throw new BulwarkError("BW_ERR_UNAUTHENTICATED", "the API key is not valid");
    return { kind: "api-key", user, role: key.role, apiKeyId: key.id };
  }
  const passwordAllowed = "password" in auth || ("permission" in auth && auth.allowPassword === true);
  if (/^Basic /i.test(header) && passwordAllowed) {
    const credentials = parseBasic(header);
    const user = credentials && (await checkPassword(store, credentials.username, credentials.password));
    if (!user) throw new BulwarkError("BW_ERR_UNAUTHENTICATED", "the username or password is wrong");
    return { kind: "password", user, role: user.role };
  }
  return null;
}

/** The preHandler that authenticates and authorises each request against its route's rule. */
export function accessControl(app: FastifyInstance, store: Store): void {
  app.decorateRequest("principal", null);
  app.addHook("preHandler", async (request) => {
    const auth = request.routeOptions.config.auth;
    if (!auth || "public" in auth) return;
    const principal = await principalOf(store, request, auth).catch(async (error: unknown) => {
      // CRA Annex I Part I (2)(d): failed sign-ins are recorded (rate limits and alerts: issue #3).
      await store.transaction((tx) =>
        appendAudit(tx, {
          actor: { type: "anonymous" },
          action: "auth.sign-in",
          outcome: "denied",
          details: { route: request.routeOptions.url, remoteAddress: request.ip },
        }),
      );
      throw error;
    });
    if (!principal) throw new BulwarkError("BW_ERR_UNAUTHENTICATED");
    request.principal = principal;
    if ("password" in auth) return;
    if (principal.kind === "password" && principal.user.mustChangePassword)
      throw new BulwarkError("BW_ERR_PASSWORD_CHANGE_REQUIRED", "change the one-time password first");
    if (!roleAllows(principal.role, auth.permission))
      throw new BulwarkError(
        "BW_ERR_FORBIDDEN",
        `the ${principal.role} role does not grant ${auth.permission}`,
      );
  });
}
