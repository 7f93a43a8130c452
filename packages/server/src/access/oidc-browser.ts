import { BulwarkError, type ProblemDetails, toProblem } from "@bulwark/sdk/errors";
import type { FastifyReply, FastifyRequest } from "fastify";

/**
 * The browser side of OpenID Connect sign-in: the callback is a top-level navigation back from the
 * provider, so a browser is sent on to the web console (303) or shown a minimal problem page, while
 * an API client that asks for JSON gets JSON (and problem+json on errors).
 */

/** Where the web console is served: a browser signed in through OIDC lands here by default. */
export const CONSOLE_HOME = "/";

const MAX_RETURN_PATH = 1000;
const PROBE_ORIGIN = "https://bulwark.invalid";

/**
 * A return path given at login start, checked to be a console page on this origin (no open
 * redirect): an absolute path, never `//host` or `/\host` (both mean another host to a browser)
 * before or after normalisation, no backslash or control character, no scheme, not an API or EST
 * path. Returns it normalised.
 */
export function consoleReturnPath(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === "") return undefined;
  const refuse = (): never => {
    throw new BulwarkError("BW_ERR_VALIDATION", "returnTo must be a path of the web console on this server");
  };
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused.
  if (raw.length > MAX_RETURN_PATH || !raw.startsWith("/") || /^\/[/\\]|[\\\u0000-\u001f\u007f]/.test(raw))
    refuse();
  let url: URL;
  try {
    url = new URL(raw, PROBE_ORIGIN);
  } catch {
    return refuse();
  }
  if (url.origin !== PROBE_ORIGIN) refuse();
  // Dot segments are removed (RFC 3986 §5.2.4; `%2e` counts as `.`): `/.//host`, `/..//host` and
  // `/%2e//host` all become `//host`, which the browser would read as another host.
  if (/^\/[/\\]/.test(url.pathname)) refuse();
  if (/^\/(api|\.well-known)(\/|$)/.test(url.pathname)) refuse();
  return `${url.pathname}${url.search}${url.hash}`;
}

/** An API client: it asks for JSON and not for HTML (a browser navigation always asks for HTML). */
export function wantsJson(request: FastifyRequest): boolean {
  const accept = String(request.headers.accept ?? "").toLowerCase();
  return /application\/(problem\+)?json/.test(accept) && !accept.includes("text/html");
}

/** Sent with every browser answer of the callback: the URL carries the code, so never cached or referred. */
function browserHeaders(reply: FastifyReply): FastifyReply {
  return reply.header("cache-control", "no-store").header("referrer-policy", "no-referrer");
}

/** RFC 9110 §15.4.4: 303 See Other, so the console is fetched with GET. */
export function redirectToConsole(reply: FastifyReply, returnTo: string | undefined): FastifyReply {
  return browserHeaders(reply).redirect(returnTo ?? CONSOLE_HOME, 303);
}

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The problem as a minimal HTML page with the problem's status (RFC 9457's fields, shown), links
 * to sign in again and to the console, no script and no outside resource.
 */
export function sendProblemPage(reply: FastifyReply, error: BulwarkError): FastifyReply {
  const problem: ProblemDetails = toProblem(error);
  const detail = problem.detail === undefined ? "" : `<p>${escapeHtml(problem.detail)}</p>\n`;
  const html = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>Sign-in failed · Bulwark</title></head>
<body>
<h1>Sign-in failed</h1>
<p><strong>${escapeHtml(problem.title)}</strong></p>
${detail}<p>Error code: <code>${escapeHtml(problem.code)}</code></p>
<p><a href="/api/v1/oidc/login">Sign in again</a> · <a href="${CONSOLE_HOME}">Back to the console</a></p>
</body>
</html>
`;
  return browserHeaders(reply)
    .code(problem.status)
    .header("content-security-policy", "default-src 'none'; base-uri 'none'; form-action 'none'")
    .header("x-content-type-options", "nosniff")
    .type("text/html; charset=utf-8")
    .send(html);
}
