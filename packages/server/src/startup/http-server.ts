import type { Server as HttpsServer } from "node:https";
import type { Server as TlsServer } from "node:tls";
import cookie from "@fastify/cookie";
import Fastify, { type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { accessControl } from "../access/access-control.ts";
import { type RouteRule, requireRouteAuth } from "../access/route-auth.ts";
import { SecretBox } from "../access/secret-box.ts";
import { actorOf } from "../audit/actor.ts";
import { appendAudit } from "../audit/audit-log.ts";
import { rateLimitReporter } from "../audit/rate-limit-reports.ts";
import type { Config } from "../config.ts";
import { holdContinue } from "../http/expect-continue.ts";
import { logListenerErrors } from "../http/listener-errors.ts";
import { requestLogSerializer } from "../http/log-redaction.ts";
import { problemDetails } from "../http/problems.ts";
import { rateLimits } from "../http/rate-limits.ts";
import type { Admission } from "../net/admission.ts";
import { type GuardedListener, guardListener } from "../net/connection-guard.ts";
import { firstRequestDeadline } from "../net/first-request.ts";
import type { CertificateAuthority } from "../pki/ca.ts";
import { operatorFromCertificate } from "../pki/operator-certificates.ts";
import type { Store } from "../store/store.ts";
import { type DomainDeps, registerDomains } from "./domains.ts";

/** The HTTPS server on TLS 1.3, its listener guarded before TLS (issue #13). */
export function createHttpServer(deps: {
  identity: { keyPem: string; certChainPem: string };
  rootPems: string[];
  admission: Admission;
  config: Config;
  log: Logger;
}): { http: FastifyInstance; admission: GuardedListener } {
  const { identity, config, log } = deps;
  // Typed as a plain FastifyInstance so domain plugins need not know the server is HTTPS.
  const http = Fastify({
    loggerInstance: log.child({ component: "http" }, { serializers: { req: requestLogSerializer } }),
    https: {
      key: identity.keyPem,
      cert: identity.certChainPem,
      ca: deps.rootPems,
      // Client certificates are asked for but optional: EST re-enrolment and operator sign-in use them.
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: "TLSv1.3",
    },
    bodyLimit: 1024 * 1024,
    // Unknown fields are refused (400), not silently dropped: every input is validated at the edge.
    ajv: { customOptions: { removeAdditional: false } },
    trustProxy: false,
    return503OnClosing: true,
  }) as unknown as FastifyInstance;
  // RFC 9110 §10.1.1: an upload refused on its headers is answered before its body is sent.
  holdContinue(http);
  // Before TLS: the caps, the handshake deadline and a balancer's PROXY header; `request.ip` is then
  // the client's own address.
  const admission = guardListener(http.server as unknown as TlsServer, {
    ...deps.admission,
    name: "https",
    log: log.child({ component: "net" }),
  });
  firstRequestDeadline(http.server as unknown as HttpsServer, config.connections.httpRequestTimeoutMs);
  return { http, admission };
}

/**
 * What every route gets before its handler: an access rule it must declare (recorded in the
 * returned table), cookies, rate limits, authentication and authorisation, RFC 9457 problems.
 * Hooks on the root, so the encapsulated domain plugins registered after inherit them.
 */
export async function guardRoutes(
  http: FastifyInstance,
  deps: { store: Store; operatorCa: () => CertificateAuthority },
): Promise<RouteRule[]> {
  const { store } = deps;
  const routes: RouteRule[] = [];
  requireRouteAuth(http, routes);
  await http.register(cookie);
  await rateLimits(http, store, rateLimitReporter(store));
  accessControl(http, {
    store,
    operatorOfCertificate: (peer) => operatorFromCertificate(store, peer, deps.operatorCa()),
    // Key use is recorded at most hourly per key (CRA Annex I Part I (2)(l)) so reads do not flood the log.
    onKeyUse: (keyId, request) =>
      store.transaction(async (tx) => {
        await appendAudit(tx, {
          actor: actorOf(null),
          action: "api-key.use",
          target: { type: "api-key", id: keyId },
          outcome: "success",
          details: { remoteAddress: request.ip, route: request.routeOptions.url },
        });
      }),
  });
  problemDetails(http);
  return routes;
}

/** The HTTPS server with its guards and every domain's routes, not yet listening. */
export async function serveHttps(
  deps: Omit<DomainDeps, "box"> & { admission: Admission; log: Logger },
): Promise<{ http: FastifyInstance; admission: GuardedListener; routes: RouteRule[] }> {
  const { standing } = deps;
  const { admission, config, log } = deps;
  const web = createHttpServer({
    identity: standing.identity,
    rootPems: deps.pki.rootPems,
    admission,
    config,
    log,
  });
  const routes = await guardRoutes(web.http, { store: deps.store, operatorCa: () => standing.operatorCa });
  await registerDomains(web.http, { ...deps, box: new SecretBox(standing.masterKey.key) });
  return { ...web, routes };
}

/** Listens for HTTPS; returns the port bound and the public URL (with that port when asked for port 0). */
export async function listenHttps(
  http: FastifyInstance,
  config: Config,
  log: Logger,
): Promise<{ httpPort: number; httpUrl: string }> {
  await http.listen({ host: config.http.host, port: config.http.port });
  logListenerErrors(http.server, log, "https");
  const address = http.server.address();
  const httpPort = typeof address === "object" && address ? address.port : config.http.port;
  const httpUrl = config.http.port === 0 ? config.publicUrl.replace(/:0$/, `:${httpPort}`) : config.publicUrl;
  return { httpPort, httpUrl };
}
