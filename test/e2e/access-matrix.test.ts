import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { toPem } from "../../packages/sdk/src/pem.ts";
import { generateKeyPair } from "../../packages/sdk/src/x509/algorithms.ts";
import { buildCsr } from "../../packages/sdk/src/x509/csr.ts";
import { commonNameOnly } from "../../packages/sdk/src/x509/name.ts";
import { createApiKey } from "../../packages/server/src/access/api-keys.ts";
import {
  ADMIN_ONLY,
  ROLE_PERMISSIONS,
  ROLES,
  type Role,
} from "../../packages/server/src/access/permissions.ts";
import type { RouteRule } from "../../packages/server/src/access/route-auth.ts";
import { createUser } from "../../packages/server/src/access/users.ts";
import { Browser, prepareAdmin, totpCode } from "../access-helpers.ts";
import { enrolDirect } from "../enrol-helpers.ts";
import { createToken, startTestServer, type TestServer } from "../helpers.ts";

/** Every route open without credentials, by intent. A new public route must be added here. */
const PUBLIC_ROUTES = new Set([
  "GET /healthz",
  "GET /api/v1/endpoints",
  "GET /problems/:code",
  "GET /.well-known/est/cacerts",
  "POST /.well-known/est/simpleenroll",
  "POST /api/v1/sessions",
  "GET /api/v1/oidc/login",
  "GET /api/v1/oidc/callback",
  // RFC 7030 §4.2.2 / §4.5: authenticated inside the handler by the client certificate, or public.
  "POST /.well-known/est/simplereenroll",
  "GET /.well-known/est/csrattrs",
  "GET /.well-known/est/:label/csrattrs",
  // RFC 5280 §4.2.2.1 / §4.2.1.13 and RFC 6960 Appendix A: CA certificates, CRLs and OCSP are public.
  "GET /pki/ca/:file",
  "GET /pki/crl/:file",
  "GET /pki/ocsp/*",
  "POST /pki/ocsp",
  // Release-signing public keys: devices and `bulwark verify` need them without credentials.
  "GET /api/v1/signing-keys/:id/public-key",
  // Issue #15: update metadata and artifacts, authenticated inside by the device certificate.
  "GET /tuf/:productId/targets/*",
  "GET /tuf/:productId/:file",
  // CRA Annex I Part II (5), (6): security.txt (RFC 9116), the CVD policy, the reporters' key and
  // the public intake with its follow-up by confirmation id (rate- and size-limited).
  "GET /.well-known/security.txt",
  "GET /security/policy",
  "GET /security/encryption-key",
  "POST /api/v1/cra/intake",
  // A wiped device's signed receipt: its key is gone, so no client certificate (fleet/wipe-receipt.ts).
  "POST /api/v1/wipe-receipts",
  "GET /api/v1/cra/intake/:id/status",
  // CSAF 2.0 §7.1 (requirements 7–20): TLP:WHITE advisories, their hashes, signatures and key are public.
  "GET /.well-known/csaf/provider-metadata.json",
  "GET /.well-known/csaf/white/index.txt",
  "GET /.well-known/csaf/white/changes.csv",
  "GET /.well-known/csaf/white/:year/:file",
  // Requirement 10: the root of https://csaf.data.security.DOMAIN (404 under any other host name).
  "GET /",
  // Requirement 14 (directory listings) and 15–17 (the ROLIE feed, service and category documents).
  "GET /.well-known/csaf/white/",
  "GET /.well-known/csaf/white/:year/",
  "GET /.well-known/csaf/feed-tlp-white.json",
  "GET /.well-known/csaf/service.json",
  "GET /.well-known/csaf/category-white.json",
  "GET /.well-known/csaf/openpgp/:file",
]);

/**
 * Routes that decide who may sign in or act (accounts, roles, sessions, how people sign in and how
 * devices enrol) or what is kept of it (audit retention): each needs a permission only `admin`
 * holds (#13 item 3).
 */
const ADMIN_ONLY_ROUTES = [
  "PUT /api/v1/oidc/config",
  "PUT /api/v1/policies/mfa",
  "PUT /api/v1/policies/rate-limits",
  "PUT /api/v1/audit/retention",
  "POST /api/v1/audit/prune",
  "POST /api/v1/audit/checkpoints",
  "POST /api/v1/users",
  "PUT /api/v1/users/:id/role",
  "POST /api/v1/users/:id/role-assignments",
  "DELETE /api/v1/role-assignments/:id",
  "DELETE /api/v1/users/:id/totp",
  "DELETE /api/v1/users/:id/sessions",
  "PUT /api/v1/groups/:name/provisioning-policy",
  "POST /api/v1/claim-cas",
];

const SAMPLE_PARAMS: Record<string, string> = { serial: "00ff", code: "BW_ERR_FORBIDDEN" };

function concretePath(url: string): string {
  return url.replace(/:([A-Za-z]+)/g, (_m, name: string) => SAMPLE_PARAMS[name] ?? randomUUID());
}

async function roleKey(server: TestServer, role: Role): Promise<string> {
  const user = await createUser(server.store, {
    username: `matrix-${role}`,
    password: "unused long password",
    role,
    mustChangePassword: false,
  });
  const { key } = await createApiKey(server.store, {
    ownerId: user.id,
    name: "matrix",
    role,
    expiresAt: null,
  });
  return key;
}

describe("access matrix: every route × every role and anonymous", () => {
  let server: TestServer;
  let routes: RouteRule[];
  const keys = new Map<Role, string>();

  before(async () => {
    server = await startTestServer();
    routes = server.routes.filter((r) => r.method !== "HEAD");
    for (const role of ROLES) keys.set(role, await roleKey(server, role));
  });
  after(async () => {
    await server.close();
  });

  it("every route has a rule naming a known permission, and public routes are exactly the intended ones", () => {
    assert.ok(routes.length > 40, `only ${routes.length} routes collected`);
    const publicRoutes = routes.filter((r) => "public" in r.auth).map((r) => `${r.method} ${r.url}`);
    assert.deepEqual(new Set(publicRoutes), PUBLIC_ROUTES);
    for (const route of routes)
      if ("permission" in route.auth)
        assert.ok(
          ROLE_PERMISSIONS.admin.includes(route.auth.permission),
          `${route.method} ${route.url}: ${route.auth.permission} is not in the permission table`,
        );
  });

  it("settings that govern authentication, accounts, roles and audit retention need an admin-only permission", () => {
    for (const role of ROLES)
      if (role !== "admin")
        assert.deepEqual(
          ROLE_PERMISSIONS[role].filter((p) => ADMIN_ONLY.includes(p)),
          [],
          `${role} holds an admin-only permission`,
        );
    const byRoute = new Map(routes.map((r) => [`${r.method} ${r.url}`, r.auth]));
    for (const route of ADMIN_ONLY_ROUTES) {
      const auth = byRoute.get(route);
      assert.ok(auth && "permission" in auth, `${route} is a route with a permission`);
      assert.ok(
        ADMIN_ONLY.includes(auth.permission),
        `${route} needs ${auth.permission}, held by more than admin`,
      );
    }
  });

  // One test per caller (~100 routes each), so that no test nears the per-test timeout.
  it("anonymous gets 401 on every non-public route", async () => {
    const failures: string[] = [];
    for (const route of routes) {
      if ("public" in route.auth) continue;
      const anonymous = await server.api<{ code: string }>(route.method, concretePath(route.url), undefined, {
        authorization: "",
      });
      if (anonymous.status !== 401)
        failures.push(`anonymous ${route.method} ${route.url} → ${anonymous.status}`);
    }
    assert.deepEqual(failures, []);
  });

  for (const role of ROLES)
    it(`the ${role} role gets exactly what the table grants`, async () => {
      const failures: string[] = [];
      for (const route of routes) {
        if ("public" in route.auth) continue;
        const res = await server.api<{ code: string }>(route.method, concretePath(route.url), undefined, {
          authorization: `Bearer ${keys.get(role)}`,
        });
        const where = `${role} ${route.method} ${route.url} → ${res.status} ${res.body?.code ?? ""}`;
        if ("signedIn" in route.auth) {
          if (res.status === 401) failures.push(where);
          continue;
        }
        const granted = ROLE_PERMISSIONS[role].includes(route.auth.permission);
        if (granted && (res.status === 401 || res.status === 403))
          failures.push(`${where} (should be allowed)`);
        if (!granted && (res.status !== 403 || res.body.code !== "BW_ERR_FORBIDDEN"))
          failures.push(`${where} (should be forbidden)`);
      }
      assert.deepEqual(failures, []);
    });

  it("product-scoped roles reach only their product", async () => {
    const a = await server.api<{ id: string }>("POST", "/api/v1/products", { name: "Router R1" });
    const b = await server.api<{ id: string }>("POST", "/api/v1/products", { name: "Camera C2" });
    assert.equal(a.status, 201);
    const user = await createUser(server.store, {
      username: "scoped-op",
      password: "unused long password",
      role: null,
      mustChangePassword: false,
    });
    const assigned = await server.api("POST", `/api/v1/users/${user.id}/role-assignments`, {
      role: "operator",
      productId: a.body.id,
    });
    assert.equal(assigned.status, 201);
    const { key } = await createApiKey(server.store, {
      ownerId: user.id,
      name: "s",
      role: "operator",
      expiresAt: null,
    });
    const bearer = { authorization: `Bearer ${key}` };
    assert.equal((await server.api("GET", `/api/v1/products/${a.body.id}`, undefined, bearer)).status, 200);
    const other = await server.api<{ code: string }>(
      "GET",
      `/api/v1/products/${b.body.id}`,
      undefined,
      bearer,
    );
    assert.equal(other.status, 403);
    assert.equal(other.body.code, "BW_ERR_FORBIDDEN");
    const list = await server.api<{ items: { id: string }[] }>("GET", "/api/v1/products", undefined, bearer);
    assert.deepEqual(
      list.body.items.map((p) => p.id),
      [a.body.id],
    );
    // A product-scoped operator holds no global permission.
    assert.equal((await server.api("GET", "/api/v1/devices", undefined, bearer)).status, 403);
    const admin = await server.api<{ items: unknown[] }>("GET", "/api/v1/products");
    assert.equal(admin.body.items.length, 2);
  });
});

describe("no secret ever reaches the log", () => {
  it("passwords, tokens, keys, TOTP seeds, recovery codes, CSRF tokens and private keys stay out", async () => {
    const lines: string[] = [];
    const server = await startTestServer({ logLines: lines });
    try {
      const secrets: string[] = [server.firstRun!.adminPassword, server.adminKey];
      const admin = await prepareAdmin(server, "log test passphrase one");
      secrets.push(
        admin.password,
        admin.secret,
        ...admin.recoveryCodes,
        admin.browser.cookie!,
        admin.browser.csrf!,
      );
      const key = await admin.browser.call<{ key: string }>("POST", "/api/v1/api-keys", { name: "log" });
      secrets.push(key.body.key);
      const failed = await new Browser(server).signIn("admin", "a wrong password guess");
      assert.equal(failed.status, 401);
      secrets.push("a wrong password guess");
      const withCode = new Browser(server);
      const code = totpCode(admin.secret, 1);
      await withCode.signIn("admin", admin.password, { code });
      secrets.push(withCode.cookie!, withCode.csrf!);
      const user = await server.api<{ oneTimePassword: string }>("POST", "/api/v1/users", {
        username: "logged",
        role: "operator",
      });
      secrets.push(user.body.oneTimePassword);
      const token = await createToken(server);
      secrets.push(token);
      const device = await enrolDirect(server, token);
      const keys = generateKeyPair("ecdsa-p256");
      const csr = buildCsr({ subjectDer: commonNameOnly("op"), algorithm: "ecdsa-p256", ...keys });
      const issued = await server.api("POST", "/api/v1/operator-certificates", {
        csr: toPem("CERTIFICATE REQUEST", csr),
      });
      assert.equal(issued.status, 201);
      const operatorKeyPem = keys.privateKey.export({ type: "pkcs8", format: "pem" }) as string;
      await server.api("PUT", "/api/v1/oidc/config", {
        issuer: "https://idp.example",
        clientId: "bulwark",
        clientSecret: "oidc-client-secret-value-1234",
        redirectUri: "https://127.0.0.1/api/v1/oidc/callback",
        groupRoles: [{ group: "ops", role: "operator" }],
      });
      secrets.push("oidc-client-secret-value-1234");
      // A query-string credential (as an OIDC callback carries) is redacted from request logs.
      await server.api(
        "GET",
        "/api/v1/oidc/callback?code=the-authorization-code-123&state=some-state-456",
        undefined,
        {
          authorization: "",
        },
      );
      secrets.push("the-authorization-code-123", "some-state-456");
      const body = (pem: string) => pem.split("\n").filter((l) => l && !l.startsWith("-----"));
      secrets.push(...body(device.keyPem), ...body(operatorKeyPem));
      const log = lines.join("");
      assert.ok(log.includes("incoming request"), "request logging is on");
      for (const secret of secrets)
        assert.ok(!log.includes(secret), `a secret appears in the log: ${secret.slice(0, 6)}…`);
    } finally {
      await server.close();
    }
  });
});
