import type { FastifyRequest } from "fastify";

// Query parameters whose values are credentials (OIDC `code`/`state`, tokens, keys) never reach the log.
const SECRET_PARAM = /code|state|token|key|secret|password|session/i;

/** The request URL as logged: secret-looking query values replaced by `[redacted]`. */
export function redactUrl(url: string): string {
  const at = url.indexOf("?");
  if (at < 0) return url;
  const params = new URLSearchParams(url.slice(at + 1));
  for (const name of new Set(params.keys())) if (SECRET_PARAM.test(name)) params.set(name, "[redacted]");
  return `${url.slice(0, at)}?${params.toString().replaceAll("%5Bredacted%5D", "[redacted]")}`;
}

/** Fastify's request serializer, minus secrets (OWASP Logging Cheat Sheet: never log credentials). */
export const requestLogSerializer = (request: FastifyRequest) => ({
  method: request.method,
  url: redactUrl(request.url),
  remoteAddress: request.ip,
});
