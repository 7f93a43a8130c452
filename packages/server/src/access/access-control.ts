import type { X509Certificate } from "node:crypto";
import type { TLSSocket } from "node:tls";
import { BulwarkError } from "@bulwark/sdk/errors";
import type { FastifyInstance, FastifyRequest, RouteOptions } from "fastify";
import { appendAudit } from "../audit/audit-log.ts";
import type { Store } from "../store/store.ts";
import { authenticateApiKey, claimKeyUseRecord } from "./api-keys.ts";
import { grantsAllow, grantsAllowSomewhere, grantsOf, narrowGrants } from "./grants.ts";
import { mfaRequired, totpEnabled } from "./mfa.ts";
import type { Principal } from "./principal.ts";
import type { RouteAuth } from "./route-auth.ts";
import { authenticateSession, csrfTokenMatches, SESSION_COOKIE } from "./sessions.ts";
import { userById } from "./users.ts";

/**
 * Names the operator a verified TLS client certificate belongs to, or undefined (pki's operator
 * certificates implement it; the composition root wires it).
 */
export type OperatorOfCertificate = (
  peer: X509Certificate,
) => Promise<{ userId: string; serial: string } | undefined>;

export interface AccessControlDeps {
  store: Store;
  /** None: client certificates sign no one in. */
  operatorOfCertificate?: OperatorOfCertificate;
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
  const peer = socket.getPeerX509Certificate?.();
  if (!deps.operatorOfCertificate || !peer || !socket.authorized) return null;
  const found = await deps.operatorOfCertificate(peer);
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
