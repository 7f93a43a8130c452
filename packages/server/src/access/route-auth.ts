import type { FastifyInstance, RouteOptions } from "fastify";
import type { Permission } from "./permissions.ts";

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

export interface RouteRule {
  method: string;
  url: string;
  auth: RouteAuth;
}

declare module "fastify" {
  interface FastifyContextConfig {
    auth?: RouteAuth;
  }
}

/** Refuses to register any route that has no access rule, and records every rule in `table`. */
export function requireRouteAuth(app: FastifyInstance, table: RouteRule[] = []): void {
  app.addHook("onRoute", (route: RouteOptions) => {
    const auth = (route.config as { auth?: RouteAuth } | undefined)?.auth;
    if (!auth) throw new Error(`route ${route.method} ${route.url} has no access rule (config.auth)`);
    for (const method of [route.method].flat()) table.push({ method, url: route.url, auth });
  });
}
