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

  /** Plays the browser: our login → provider (cookies kept) → back to our callback. */
  async function signInAs(
    user: string,
  ): Promise<{ browser: Browser; status: number; body: unknown; authorizeUrl: URL }> {
    nextUser = user;
    const browser = new Browser(server);
    const start = await browser.call("GET", "/api/v1/oidc/login");
    assert.equal(start.status, 302);
    const authorizeUrl = new URL(String(start.headers.location));
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
    const done = await browser.call("GET", `${back.pathname}${back.search}`);
    return { browser, status: done.status, body: done.body, authorizeUrl };
  }

  it("a user in a mapped group signs in with code + PKCE and gets the mapped role", async () => {
    const { browser, status, body, authorizeUrl } = await signInAs("alice");
    assert.equal(status, 200, JSON.stringify(body));
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

  it("a user in no mapped group is refused, recorded and notified", async () => {
    const { status, body } = await signInAs("bob");
    assert.equal(status, 403);
    assert.equal((body as { code: string }).code, "BW_ERR_FORBIDDEN");
    const notes = await server.api<{ items: { kind: string }[] }>("GET", "/api/v1/notifications");
    assert.ok(notes.body.items.some((n) => n.kind === "oidc-refused"));
  });

  it("a callback with an unknown or replayed state is refused", async () => {
    const forged = await new Browser(server).call<{ code: string }>(
      "GET",
      "/api/v1/oidc/callback?code=abc&state=forged",
    );
    assert.equal(forged.status, 401);
  });
});
