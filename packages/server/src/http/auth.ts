import type { TLSSocket } from "node:tls";
import { BulwarkError } from "@bulwark/sdk/errors";
import type { FastifyInstance, FastifyRequest, RouteOptions } from "fastify";
import { authenticateApiKey, claimKeyUseRecord } from "../access/api-keys.ts";
import {
  type Grant,
  grantsAllow,
  grantsAllowSomewhere,
  grantsOf,
  narrowGrants,
  scopeOf,
} from "../access/grants.ts";
import { mfaRequired, totpEnabled } from "../access/mfa.ts";
import { operatorFromCertificate } from "../access/operator-certificates.ts";
import type { Permission, Role } from "../access/permissions.ts";
import { authenticateSession, csrfTokenMatches, SESSION_COOKIE } from "../access/sessions.ts";
import { type User, userById } from "../access/users.ts";
import { type AuditEntry, appendAudit } from "../audit/audit-log.ts";
import type { CertificateAuthority } from "../pki/ca.ts";
import type { Store } from "../store/store.ts";

/**
 * Every route declares who may call it:
 * - `public`: anyone (rate-limited);
 * - `permission`: a principal whose grants hold it globally, or for the product named by the
 *   `productParam` route parameter, or (with `scoped`) for any product, the handler filtering;
 * - `signedIn`: any authenticated principal, even one that must still change its password or
 *   enrol a second factor (the few account routes that let it do so).
 */
export type RouteAuth =
  | { public: true }
  | { permission: Permission; productParam?: string; scoped?: boolean }
  | { signedIn: true };

export interface Principal {
  kind: "api-key" | "session" | "client-cert";
  user: User;
  /** The user's global role, for display; decisions use `grants`. */
  role: Role | null;
  grants: Grant[];
  apiKeyId?: string;
  /**
   * When the API key or client certificate used expires (epoch ms; null: never): a key or
   * certificate it makes may not outlive it.
   */
  credentialExpiresAt?: number | null;
  sessionId?: string;
  certificateSerial?: string;
  /** What a session must do before anything but its own account routes. */
  restriction: "password-change" | "mfa-enrolment" | null;
}

export interface RouteRule {
  method: string;
  url: string;
  auth: RouteAuth;
}

declare module "fastify" {
  interface FastifyContextConfig {
    auth?: RouteAuth;
  }
  interface FastifyRequest {
    principal: Principal | null;
    sessionToken: string | null;
  }
}

/** The audit actor for a principal. */
export function actorOf(principal: Principal | null): AuditEntry["actor"] {
  if (!principal) return { type: "anonymous" };
  return principal.kind === "api-key"
    ? { type: "api-key", id: principal.apiKeyId }
    : { type: "user", id: principal.user.id };
}

/** The products a principal reaches with a permission (`all`, or the ids of its scoped grants). */
export const productScope = (principal: Principal | null, permission: Permission): "all" | string[] =>
  principal ? scopeOf(principal.grants, permission) : [];

/** Refuses to register any route that has no access rule, and records every rule in `table`. */
export function requireRouteAuth(app: FastifyInstance, table: RouteRule[] = []): void {
  app.addHook("onRoute", (route: RouteOptions) => {
    const auth = (route.config as { auth?: RouteAuth } | undefined)?.auth;
    if (!auth) throw new Error(`route ${route.method} ${route.url} has no access rule (config.auth)`);
    for (const method of [route.method].flat()) table.push({ method, url: route.url, auth });
  });
}

export interface AccessControlDeps {
  store: Store;
  operatorCa: () => CertificateAuthority | undefined;
  /** Called once per API key use that is worth recording (at most hourly per key). */
  onKeyUse?: (keyId: string, request: FastifyRequest) => Promise<void>;
}

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

async function fromApiKey(
  deps: AccessControlDeps,
  request: FastifyRequest,
  presented: string,
): Promise<Principal> {
  const key = await authenticateApiKey(deps.store, presented);
  const user = key && (await userById(deps.store, key.ownerId));
  if (!key || !user) throw new BulwarkError("BW_ERR_UNAUTHENTICATED", "the API key is not valid");
  // Scope checked at use: the key's list narrowed to what the owner holds now.
  const grants = narrowGrants(await grantsOf(deps.store, user), key.permissions);
  if (deps.onKeyUse && (await claimKeyUseRecord(deps.store, key.id))) await deps.onKeyUse(key.id, request);
  return {
    kind: "api-key",
    user,
    role: user.role,
    grants,
    apiKeyId: key.id,
    credentialExpiresAt: key.expiresAt === null ? null : Date.parse(key.expiresAt),
    restriction: null,
  };
}

async function fromClientCertificate(deps: AccessControlDeps, socket: TLSSocket): Promise<Principal | null> {
  const ca = deps.operatorCa();
  const peer = socket.getPeerX509Certificate?.();
  if (!ca || !peer || !socket.authorized) return null;
  const found = await operatorFromCertificate(deps.store, peer, ca);
  if (!found) return null;
  const user = await userById(deps.store, found.userId);
  if (!user) return null;
  const grants = await grantsOf(deps.store, user);
  return {
    kind: "client-cert",
    user,
    role: user.role,
    grants,
    certificateSerial: found.serial,
    credentialExpiresAt: Date.parse(peer.validTo),
    restriction: null,
  };
}

async function fromSession(
  deps: AccessControlDeps,
  request: FastifyRequest,
  token: string,
): Promise<Principal> {
  const session = await authenticateSession(deps.store, token);
  const user = session && (await userById(deps.store, session.userId));
  if (!session || !user)
    throw new BulwarkError("BW_ERR_UNAUTHENTICATED", "the session has ended; sign in again");
  // OWASP CSRF Prevention Cheat Sheet: synchronizer token on every cookie-authenticated change.
  if (
    UNSAFE.has(request.method) &&
    !csrfTokenMatches(token, request.headers["x-csrf-token"] as string | undefined)
  )
    throw new BulwarkError("BW_ERR_CSRF", "send the session's CSRF token in the X-CSRF-Token header");
  request.sessionToken = token;
  const grants = await grantsOf(deps.store, user);
  const restriction = user.mustChangePassword
    ? "password-change"
    : (await mfaRequired(deps.store, grants)) && !(await totpEnabled(deps.store, user.id))
      ? "mfa-enrolment"
      : null;
  return { kind: "session", user, role: user.role, grants, sessionId: session.id, restriction };
}

/** Credentials in order of precedence: Authorization header, TLS client certificate, session cookie. */
async function principalOf(deps: AccessControlDeps, request: FastifyRequest): Promise<Principal | null> {
  const header = request.headers.authorization ?? "";
  if (/^Bearer /i.test(header)) return fromApiKey(deps, request, header.slice(7).trim());
  if (header)
    throw new BulwarkError(
      "BW_ERR_UNAUTHENTICATED",
      "use an API key (Bearer) or sign in at POST /api/v1/sessions",
    );
  const byCertificate = await fromClientCertificate(deps, request.raw.socket as TLSSocket);
  if (byCertificate) return byCertificate;
  const cookie = request.cookies?.[SESSION_COOKIE];
  return cookie ? fromSession(deps, request, cookie) : null;
}

function authorise(
  principal: Principal,
  auth: Exclude<RouteAuth, { public: true }>,
  request: FastifyRequest,
): void {
  if ("signedIn" in auth) return;
  if (principal.restriction === "password-change")
    throw new BulwarkError("BW_ERR_PASSWORD_CHANGE_REQUIRED", "change the one-time password first");
  if (principal.restriction === "mfa-enrolment")
    throw new BulwarkError(
      "BW_ERR_MFA_ENROLMENT_REQUIRED",
      "your role requires a second factor: enrol TOTP first",
    );
  const product = auth.productParam
    ? (request.params as Record<string, string>)[auth.productParam]
    : undefined;
  const allowed = auth.scoped
    ? grantsAllowSomewhere(principal.grants, auth.permission)
    : grantsAllow(principal.grants, auth.permission, product);
  if (!allowed)
    throw new BulwarkError(
      "BW_ERR_FORBIDDEN",
      product
        ? `no role of the caller grants ${auth.permission} on this product`
        : `no role of the caller grants ${auth.permission}`,
    );
}

/**
 * Authenticates and authorises each request against its route's rule, before the body is parsed
 * or validated (so nothing about a protected route is revealed to an unauthenticated caller). It
 * is added to each route after the rate limiter, so a flood of bad credentials is throttled first.
 */
export function accessControl(app: FastifyInstance, deps: AccessControlDeps): void {
  app.decorateRequest("principal", null);
  app.decorateRequest("sessionToken", null);
  const check = async (request: FastifyRequest) => {
    const auth = request.routeOptions.config.auth;
    if (!auth || "public" in auth) return;
    const principal = await principalOf(deps, request).catch(async (error: unknown) => {
      // CRA Annex I Part I (2)(d): refused credentials are recorded as possible unauthorised access.
      if (error instanceof BulwarkError && error.code !== "BW_ERR_CSRF")
        await deps.store.transaction((tx) =>
          appendAudit(tx, {
            actor: { type: "anonymous" },
            action: "auth.sign-in",
            outcome: "denied",
            details: { route: request.routeOptions.url, remoteAddress: request.ip, reason: error.code },
          }),
        );
      throw error;
    });
    if (!principal) throw new BulwarkError("BW_ERR_UNAUTHENTICATED");
    request.principal = principal;
    authorise(principal, auth, request);
  };
  app.addHook("onRoute", (route: RouteOptions) => {
    const hooks = route.onRequest;
    route.onRequest = [
      ...(Array.isArray(hooks) ? hooks : hooks ? [hooks] : []),
      check,
    ] as RouteOptions["onRequest"];
  });
}
