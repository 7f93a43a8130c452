import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import Provider from "oidc-provider";
import { httpsRequest } from "../../packages/sdk/src/https.ts";
import { beginOidcLogin, completeOidcLogin } from "../../packages/server/src/access/oidc.ts";
import { SecretBox } from "../../packages/server/src/access/secret-box.ts";
import { loadMasterKey } from "../../packages/server/src/pki/master-key.ts";
import { Browser } from "../access-helpers.ts";
import { startTestServer, type TestServer, tempDir } from "../helpers.ts";

/**
 * OpenID Connect sign-in against a real OpenID provider (`oidc-provider`, the certified Node
 * implementation) on loopback over HTTPS: authorization code + PKCE, group → role mapping.
 */
const GROUPS: Record<string, string[]> = { alice: ["bulwark-ops", "staff"], bob: ["staff"] };
const CLIENT_SECRET = "a-client-secret-for-the-test-provider";

/** A self-signed certificate for 127.0.0.1, made by openssl (a second, independent TLS stack). */
async function loopbackCertificate(): Promise<{ key: string; cert: string }> {
  const dir = tempDir("bulwark-oidc-");
  await promisify(execFile)("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    join(dir, "key.pem"),
    "-out",
    join(dir, "cert.pem"),
    "-days",
    "1",
    "-subj",
    "/CN=127.0.0.1",
    "-addext",
    "subjectAltName=IP:127.0.0.1",
  ]);
  return {
    key: readFileSync(join(dir, "key.pem"), "utf8"),
    cert: readFileSync(join(dir, "cert.pem"), "utf8"),
  };
}

/** The login page a person would see: here it signs in whoever `nextUser` names and consents. */
async function interaction(
  provider: Provider,
  user: () => string,
  req: IncomingMessage,
  res: ServerResponse,
) {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === "login") {
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId: user() } },
      { mergeWithLastSubmission: false },
    );
    return;
  }
  const grant = new provider.Grant({
    accountId: details.session!.accountId,
    clientId: String(details.params.client_id),
  });
  const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(" "));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  await provider.interactionFinished(
    req,
    res,
    { consent: { grantId: await grant.save() } },
    { mergeWithLastSubmission: true },
  );
}

describe("OpenID Connect sign-in with a real provider", () => {
  let server: TestServer;
  let idp: Server;
  let issuer: string;
  let caPem: string;
  let nextUser = "alice";

  before(async () => {
    server = await startTestServer();
    // Every sign-in here is a login start and a callback from one IP: more than the default 20/min.
    await server.api("PUT", "/api/v1/policies/rate-limits", { signIn: 1000 });
    const tls = await loopbackCertificate();
    caPem = tls.cert;
    const redirectUri = new URL("/api/v1/oidc/callback", server.httpUrl).href;
    idp = createServer({ key: tls.key, cert: tls.cert });
    await new Promise<void>((resolve) => idp.listen(0, "127.0.0.1", resolve));
    const address = idp.address();
    issuer = `https://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
    const signingKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({
      format: "jwk",
    });
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: "bulwark",
          client_secret: CLIENT_SECRET,
          redirect_uris: [redirectUri],
          grant_types: ["authorization_code"],
          response_types: ["code"],
          token_endpoint_auth_method: "client_secret_basic",
        },
      ],
      claims: { openid: ["sub"], profile: ["preferred_username"], groups: ["groups"] },
      scopes: ["openid", "profile", "groups"],
      findAccount: async (_ctx, sub) => ({
        accountId: sub,
        claims: async () => ({ sub, preferred_username: sub, groups: GROUPS[sub] ?? [] }),
      }),
      features: { devInteractions: { enabled: false } },
      interactions: { url: (_ctx, i) => `/interaction/${i.uid}` },
      pkce: { required: () => true },
      cookies: { keys: ["a-cookie-signing-key-for-the-test"] },
      jwks: { keys: [{ ...signingKey, kid: "test", alg: "RS256", use: "sig" }] as never },
    });
    const callback = provider.callback();
    idp.on("request", (req: IncomingMessage, res: ServerResponse) => {
      if (req.url?.startsWith("/interaction/"))
        interaction(provider, () => nextUser, req, res).catch((error: Error) => {
          res.statusCode = 500;
          res.end(error.message);
        });
      else callback(req, res);
    });
    const configured = await server.api("PUT", "/api/v1/oidc/config", {
      issuer,
      clientId: "bulwark",
      clientSecret: CLIENT_SECRET,
      redirectUri,
      scopes: "openid profile groups",
      groupRoles: [{ group: "bulwark-ops", role: "operator" }],
      caPem,
    });
    assert.equal(configured.status, 200);
  });
  after(async () => {
    await server.close();
    idp.closeAllConnections();
    await new Promise((resolve) => idp.close(resolve));
  });

  /** What a browser sends on a top-level navigation (it always asks for HTML). */
  const NAVIGATION = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

  /**
   * Plays the browser: our login → provider (cookies kept) → back to our callback, which is called
   * as a browser navigation unless `accept` says otherwise (an API client).
   */
  async function signInAs(
    user: string,
    options: { accept?: string; returnTo?: string; browser?: Browser; authorizeUrl?: URL } = {},
  ): Promise<{
    browser: Browser;
    status: number;
    body: unknown;
    headers: Record<string, unknown>;
    authorizeUrl: URL;
  }> {
    nextUser = user;
    const browser = options.browser ?? new Browser(server);
    const query = options.returnTo === undefined ? "" : `?returnTo=${encodeURIComponent(options.returnTo)}`;
    let authorizeUrl = options.authorizeUrl;
    if (!authorizeUrl) {
      const start = await browser.call("GET", `/api/v1/oidc/login${query}`);
      assert.equal(start.status, 302);
      authorizeUrl = new URL(String(start.headers.location));
    }
    const jar = new Map<string, string>();
    let location = authorizeUrl.href;
    for (let hops = 0; hops < 10 && location.startsWith(issuer); hops++) {
      const res = await httpsRequest({
        url: location,
        ca: caPem,
        headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join("; ") },
      });
      for (const line of ([] as string[]).concat(res.headers["set-cookie"] ?? [])) {
        const [pair] = line.split(";");
        const eq = pair!.indexOf("=");
        jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
      }
      assert.ok(res.status >= 300 && res.status < 400, `provider answered ${res.status}: ${res.body}`);
      location = new URL(String(res.headers.location), location).href;
    }
    const back = new URL(location);
    const done = await browser.call("GET", `${back.pathname}${back.search}`, undefined, {
      accept: options.accept ?? NAVIGATION,
    });
    return { browser, status: done.status, body: done.body, headers: done.headers, authorizeUrl };
  }

  it("a browser signs in with code + PKCE, gets the session cookie and is sent on to the console (303)", async () => {
    const { browser, status, body, headers, authorizeUrl } = await signInAs("alice");
    assert.equal(status, 303, JSON.stringify(body));
    assert.equal(headers.location, "/", "the console");
    assert.equal(headers["cache-control"], "no-store");
    assert.equal(headers["referrer-policy"], "no-referrer", "the callback URL carries the code");
    // The same cookie the password sign-in sets (RFC 6265bis §4.1.3.2 `__Host-`), attributes and all.
    const attributes = (h: Record<string, unknown>) =>
      ([] as string[])
        .concat((h["set-cookie"] as string[]) ?? [])
        .map((line) => line.replace(/^(__Host-bulwark-session)=[^;]+/, "$1=…"));
    const password = await new Browser(server).signIn("admin", server.firstRun!.adminPassword);
    assert.equal(password.status, 201);
    assert.deepEqual(attributes(headers), attributes(password.headers));
    assert.match(attributes(headers)[0]!, /Path=\/; HttpOnly; Secure; SameSite=Strict/);
    // RFC 7636 §4.3: the request carried an S256 challenge, never the verifier.
    assert.equal(authorizeUrl.searchParams.get("code_challenge_method"), "S256");
    assert.match(authorizeUrl.searchParams.get("code_challenge") ?? "", /^[A-Za-z0-9_-]{43}$/);
    assert.ok(authorizeUrl.searchParams.get("state") && authorizeUrl.searchParams.get("nonce"));
    const me = await browser.call<{ user: { username: string; role: string } }>(
      "GET",
      "/api/v1/sessions/current",
    );
    assert.equal(me.body.user.username, "alice");
    assert.equal(me.body.user.role, "operator");
    assert.equal((await browser.call("GET", "/api/v1/devices")).status, 200);
    assert.equal((await browser.call("GET", "/api/v1/users")).status, 403, "operator does not read users");
    // Signing in again reuses the same local account.
    await signInAs("alice");
    const users = await server.api<{ items: { username: string }[] }>("GET", "/api/v1/users");
    assert.equal(users.body.items.filter((u) => u.username === "alice").length, 1);
  });

  it("an API client asking for JSON gets the session as JSON, as before", async () => {
    const { browser, status, body } = await signInAs("alice", { accept: "application/json" });
    assert.equal(status, 200, JSON.stringify(body));
    const signedIn = body as { csrfToken: string; user: { username: string; role: string } };
    assert.deepEqual([signedIn.user.username, signedIn.user.role], ["alice", "operator"]);
    assert.match(signedIn.csrfToken, /\S{20,}/);
    assert.ok(browser.cookie, "the session cookie is set for it too");
    assert.equal((await browser.call("GET", "/api/v1/sessions/current")).status, 200);
  });

  it("a console page given at login start is where the browser lands", async () => {
    const returnTo = "/devices/42?tab=certificates#latest";
    const { browser, status, headers } = await signInAs("alice", { returnTo });
    assert.equal(status, 303);
    assert.equal(headers.location, returnTo);
    assert.equal((await browser.call("GET", "/api/v1/sessions/current")).status, 200);
  });

  it("a return path that could leave the console is refused at login start (no open redirect)", async () => {
    for (const returnTo of [
      "https://evil.example/",
      "//evil.example/x",
      "/\\evil.example",
      "/\tx",
      "\\evil.example",
      "javascript:alert(1)",
      "devices",
      "/devices\r\nSet-Cookie: a=b",
      "/api/v1/users",
      "/.well-known/est/cacerts",
      `/${"a".repeat(1000)}`,
      // Each normalises (dot segments removed) to `//evil.example`, another host to a browser.
      "/.//evil.example",
      "/..//evil.example",
      "/%2e//evil.example",
      "/a/%2e%2e//evil.example",
    ]) {
      const refused = await new Browser(server).call<{ code: string }>(
        "GET",
        `/api/v1/oidc/login?returnTo=${encodeURIComponent(returnTo)}`,
      );
      assert.equal(refused.status, 400, returnTo);
      assert.equal(refused.body.code, "BW_ERR_VALIDATION", returnTo);
      assert.equal(refused.headers.location, undefined, returnTo);
    }
  });

  it("a callback whose stored return path would leave the console is refused without a session or cookie", async () => {
    // Planted as a version that let `/.//host` through at login start would have stored it.
    const box = new SecretBox(loadMasterKey(join(server.dir, "data"), undefined).key);
    const sessionsBefore = await countSessions();
    for (const planted of ["//evil.example", "/\\evil.example"]) {
      const authorizeUrl = await beginOidcLogin(server.store, box, planted);
      const { browser, status, body, headers } = await signInAs("alice", { authorizeUrl });
      assert.equal(status, 400, planted);
      assert.match(String(body), /<code>BW_ERR_VALIDATION<\/code>/);
      assert.equal(headers.location, undefined, planted);
      assert.equal(headers["set-cookie"], undefined, `no cookie for ${planted}`);
      assert.equal(browser.cookie, undefined);
    }
    assert.equal(await countSessions(), sessionsBefore, "no session was opened");
    // Positive control: the same planted login with a console path signs in.
    const good = await signInAs("alice", {
      authorizeUrl: await beginOidcLogin(server.store, box, "/devices"),
    });
    assert.equal(good.status, 303);
    assert.equal(good.headers.location, "/devices");
    assert.ok(good.browser.cookie);
    assert.equal(await countSessions(), sessionsBefore + 1);
  });

  it("a login state is used once even by callbacks that arrive together", async () => {
    const box = new SecretBox(loadMasterKey(join(server.dir, "data"), undefined).key);
    const state = (await beginOidcLogin(server.store, box)).searchParams.get("state")!;
    const query = `code=not-a-real-code&state=${encodeURIComponent(state)}`;
    const outcomes = await Promise.allSettled([
      completeOidcLogin(server.store, box, query),
      completeOidcLogin(server.store, box, query),
    ]);
    const reasons = outcomes.map((o) =>
      o.status === "rejected" ? (o.reason as Error).message : "signed in",
    );
    // One reached the provider (which refused the made-up code); the other stopped at the state.
    assert.deepEqual(reasons.sort(), [
      "the OpenID provider refused the sign-in",
      "the sign-in request is unknown or expired; start again",
    ]);
  });

  const countSessions = async () =>
    Number((await server.store.get<{ n: number }>(`SELECT COUNT(*) AS n FROM sessions`))!.n);

  it("signing in through OIDC ends a session cookie the browser already presented (no fixation)", async () => {
    const first = await signInAs("alice");
    const old = first.browser.cookie;
    const second = await signInAs("alice", { browser: first.browser });
    assert.equal(second.status, 303);
    assert.notEqual(second.browser.cookie, old);
    const stale = await new Browser(server).call("GET", "/api/v1/sessions/current", undefined, {
      cookie: `__Host-bulwark-session=${old}`,
    });
    assert.equal(stale.status, 401);
  });

  it("a user in no mapped group is refused, recorded and notified: a problem page for a browser", async () => {
    const { browser, status, body, headers } = await signInAs("bob");
    assert.equal(status, 403);
    assert.match(String(headers["content-type"]), /^text\/html; charset=utf-8/);
    assert.match(String(headers["content-security-policy"]), /default-src 'none'/);
    assert.equal(headers["referrer-policy"], "no-referrer");
    assert.equal(headers["set-cookie"], undefined);
    assert.equal(browser.cookie, undefined);
    const page = String(body);
    assert.match(page, /<title>Sign-in failed/);
    assert.match(page, /<code>BW_ERR_FORBIDDEN<\/code>/);
    assert.match(page, /none of your groups is mapped to a Bulwark role/);
    assert.match(page, /href="\/api\/v1\/oidc\/login"/);
    assert.doesNotMatch(page, /<script/i);
    const notes = await server.api<{ items: { kind: string }[] }>("GET", "/api/v1/notifications");
    assert.ok(notes.body.items.some((n) => n.kind === "oidc-refused"));
    const api = await signInAs("bob", { accept: "application/json" });
    assert.equal(api.status, 403);
    assert.match(String(api.headers["content-type"]), /^application\/problem\+json/);
    assert.equal((api.body as { code: string }).code, "BW_ERR_FORBIDDEN");
  });

  it("a callback with an unknown or replayed state is refused (problem page, or problem+json)", async () => {
    const path = "/api/v1/oidc/callback?code=abc&state=forged-state-<b>";
    const page = await new Browser(server).call("GET", path, undefined, { accept: NAVIGATION });
    assert.equal(page.status, 401);
    assert.match(String(page.headers["content-type"]), /^text\/html/);
    assert.match(String(page.body), /<code>BW_ERR_UNAUTHENTICATED<\/code>/);
    assert.doesNotMatch(String(page.body), /forged-state|<b>/, "nothing from the URL is echoed");
    assert.equal(page.headers.location, undefined);
    const forged = await new Browser(server).call<{ code: string }>("GET", path, undefined, {
      accept: "application/json",
    });
    assert.equal(forged.status, 401);
    assert.equal(forged.body.code, "BW_ERR_UNAUTHENTICATED");
  });
});
