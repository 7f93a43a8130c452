import { BulwarkError } from "@bulwark/sdk/errors";
import rateLimit from "@fastify/rate-limit";
import type { FastifyInstance, FastifyRequest, RouteOptions } from "fastify";
import type { Queryable, Store } from "../store/store.ts";

/**
 * Request rate limits per client IP (CRA Annex I Part I (2)(d) and (h): protection from
 * unauthorised access and resilience against denial of service), by class of route. Together with
 * the per-account lockout (`access/lockout.ts`) this throttles guessing per IP and per account.
 */
export interface RateLimitPolicy {
  /** Password sign-in attempts per minute per IP. */
  signIn: number;
  /** TOTP enrolment/confirmation attempts per minute per IP. */
  secondFactor: number;
  /** EST requests (`/.well-known/est/*`) per minute per IP. */
  enrolment: number;
  /** Other public endpoints per minute per IP. */
  public: number;
  /** Authenticated API calls per minute per IP. */
  authenticated: number;
}

export const DEFAULT_RATE_LIMITS: RateLimitPolicy = {
  signIn: 20,
  secondFactor: 20,
  enrolment: 600,
  public: 1200,
  authenticated: 6000,
};

const SETTING = "access.rate-limits";
const policy: RateLimitPolicy = { ...DEFAULT_RATE_LIMITS };
const WINDOW_MS = 60_000;
export type RateLimitClass = keyof RateLimitPolicy;

const limit = (cls: RateLimitClass) => ({ max: () => policy[cls], timeWindow: WINDOW_MS, groupId: cls });

/** Per-route rate-limit configs for routes that need a class of their own. */
export const RATE_LIMITS = {
  signIn: limit("signIn"),
  secondFactor: limit("secondFactor"),
};

export const currentRateLimits = (): RateLimitPolicy => ({ ...policy });

export async function loadRateLimits(db: Queryable): Promise<RateLimitPolicy> {
  const row = await db.get<{ value: string }>(`SELECT value FROM settings WHERE key = ?`, [SETTING]);
  Object.assign(policy, DEFAULT_RATE_LIMITS, row ? (JSON.parse(row.value) as Partial<RateLimitPolicy>) : {});
  return currentRateLimits();
}

export async function saveRateLimits(
  db: Queryable,
  next: Partial<RateLimitPolicy>,
): Promise<RateLimitPolicy> {
  const merged = { ...currentRateLimits(), ...next };
  const value = JSON.stringify(merged);
  const { changes } = await db.run(`UPDATE settings SET value = ? WHERE key = ?`, [value, SETTING]);
  if (changes === 0) await db.run(`INSERT INTO settings (key, value) VALUES (?, ?)`, [SETTING, value]);
  Object.assign(policy, merged);
  return currentRateLimits();
}

function classOf(route: RouteOptions): RateLimitClass {
  const auth = (route.config as { auth?: object } | undefined)?.auth;
  if (route.url.startsWith("/.well-known/est/")) return "enrolment";
  return auth && "public" in auth ? "public" : "authenticated";
}

// One report per client and class per window, so a flood does not flood the audit log too.
const reported = new Map<string, number>();

/** What a breach is reported with (the composition root records it in the audit log). */
export interface RateLimitBreach {
  class: string;
  remoteAddress: string;
  route: string | undefined;
}

function reportExceeded(
  report: (breach: RateLimitBreach) => Promise<void>,
  request: FastifyRequest,
  cls: string,
): Promise<void> {
  const key = `${cls}|${request.ip}`;
  const now = Date.now();
  if ((reported.get(key) ?? 0) > now - WINDOW_MS) return Promise.resolve();
  reported.set(key, now);
  if (reported.size > 10_000) reported.clear();
  return report({ class: cls, remoteAddress: request.ip, route: request.routeOptions.url });
}

/** Registers the limiter; must run before any route is added. `report` hears of each breach (throttled). */
export async function rateLimits(
  app: FastifyInstance,
  store: Store,
  report: (breach: RateLimitBreach) => Promise<void>,
): Promise<void> {
  await loadRateLimits(store);
  app.addHook("onRoute", (route: RouteOptions) => {
    const config = (route.config ?? {}) as { rateLimit?: unknown };
    config.rateLimit ??= limit(classOf(route));
    route.config = config as RouteOptions["config"];
  });
  await app.register(rateLimit, {
    global: true,
    hook: "onRequest",
    onExceeded: (request: FastifyRequest) => {
      const cls =
        (request.routeOptions.config as { rateLimit?: { groupId?: string } }).rateLimit?.groupId ?? "?";
      reportExceeded(report, request, cls).catch((error: unknown) =>
        request.log.error({ err: error }, "could not record a rate-limit report"),
      );
    },
    errorResponseBuilder: (_request, context) =>
      new BulwarkError("BW_ERR_RATE_LIMITED", `too many requests; retry after ${context.after}`),
  });
}
