import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { httpsRequest } from "../../packages/sdk/src/https.ts";
import { toPem } from "../../packages/sdk/src/pem.ts";
import { generateKeyPair } from "../../packages/sdk/src/x509/algorithms.ts";
import { buildCsr } from "../../packages/sdk/src/x509/csr.ts";
import { commonNameOnly } from "../../packages/sdk/src/x509/name.ts";
import { createApiKey } from "../../packages/server/src/access/api-keys.ts";
import {
  type Permission,
  ROLE_PERMISSIONS,
  type Role,
} from "../../packages/server/src/access/permissions.ts";
import { createUser, type User } from "../../packages/server/src/access/users.ts";
import { startTestServer, type TestServer } from "../helpers.ts";

/**
 * Issue #13 item 3 and its class: no principal gives, or makes a credential for, more than it
 * holds itself. Each attack is sent as the issue describes it and must be refused, with a positive
 * control showing the same principal can do what it does hold.
 */
interface Problem {
  code: string;
  detail?: string;
}

const DAY_MS = 24 * 3600 * 1000;

const OIDC = (groupRoles: { group: string; role: Role }[]) => ({
  issuer: "https://idp.attacker.example",
  clientId: "bulwark",
  clientSecret: "an-attacker-controlled-secret",
  redirectUri: "https://bulwark.example/api/v1/oidc/callback",
  groupRoles,
});

const requests = new Map<string, string>();

/** A CSR (PEM) for a new key; its private key (PEM) is kept in `requests`. */
function csrPem(): string {
  const keys = generateKeyPair("ecdsa-p256");
  const pem = toPem(
    "CERTIFICATE REQUEST",
    buildCsr({ subjectDer: commonNameOnly("op"), algorithm: "ecdsa-p256", ...keys }),
  );
  requests.set(pem, keys.privateKey.export({ type: "pkcs8", format: "pem" }) as string);
  return pem;
}

describe("no principal grants more than it holds", () => {
  let server: TestServer;
  let admin: User;
  let operator: User;
  let operatorKey: string;

  const as = (key: string) => ({ authorization: `Bearer ${key}` });
  /** A key of `owner` holding only `permissions` (narrowed at use to what the owner holds). */
  const keyOf = async (owner: User, permissions: Permission[] | Role, expiresAt: number | null = null) =>
    (
      await createApiKey(server.store, {
        ownerId: owner.id,
        name: "escalation",
        role: typeof permissions === "string" ? permissions : (owner.role ?? "auditor"),
        permissions: typeof permissions === "string" ? undefined : permissions,
        expiresAt,
      })
    ).key;
  const forbidden = (res: { status: number; body: Problem }, what: string) => {
    assert.equal(res.status, 403, `${what}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.code, "BW_ERR_FORBIDDEN", what);
  };

  before(async () => {
    server = await startTestServer();
    const user = (username: string, role: Role) =>
      createUser(server.store, {
        username,
        password: "unused long password",
        role,
        mustChangePassword: false,
      });
    admin = await user("second-admin", "admin");
    operator = await user("operator-one", "operator");
    operatorKey = await keyOf(operator, "operator");
  });
  after(async () => {
    await server.close();
  });

  it("an operator key cannot map its own identity provider's group to admin, drop the admin 2FA rule or raise the sign-in limit", async () => {
    const oidc = await server.api<Problem>(
      "PUT",
      "/api/v1/oidc/config",
      OIDC([{ group: "attackers", role: "admin" }]),
      as(operatorKey),
    );
    forbidden(oidc, "OIDC config");
    forbidden(
      await server.api<Problem>("PUT", "/api/v1/policies/mfa", { requiredRoles: [] }, as(operatorKey)),
      "2FA policy",
    );
    forbidden(
      await server.api<Problem>(
        "PUT",
        "/api/v1/policies/rate-limits",
        { signIn: 1_000_000 },
        as(operatorKey),
      ),
      "rate limits",
    );
    forbidden(
      await server.api<Problem>("PUT", "/api/v1/audit/retention", { days: 1 }, as(operatorKey)),
      "audit retention",
    );
    // Nothing changed; and the operator still writes the fleet policies its role is for.
    assert.equal((await server.api("GET", "/api/v1/oidc/config")).status, 404);
    const mfa = await server.api<{ requiredRoles: string[] }>("GET", "/api/v1/policies/mfa");
    assert.deepEqual(mfa.body.requiredRoles, ["admin"]);
    const limits = await server.api<{ signIn: number }>("GET", "/api/v1/policies/rate-limits");
    assert.equal(limits.body.signIn, 20);
    const fleet = await server.api("PUT", "/api/v1/groups/default/policy", { policy: null }, as(operatorKey));
    assert.equal(fleet.status, 200, JSON.stringify(fleet.body));
  });

  it("an OIDC group mapping may not give a role the configuring principal does not hold", async () => {
    const narrow = await keyOf(admin, ["auth-settings:manage", ...ROLE_PERMISSIONS.auditor]);
    const toAdmin = await server.api<Problem>(
      "PUT",
      "/api/v1/oidc/config",
      OIDC([
        { group: "g", role: "auditor" },
        { group: "h", role: "admin" },
      ]),
      as(narrow),
    );
    forbidden(toAdmin, "mapping to admin through a narrowed admin key");
    assert.match(toAdmin.body.detail ?? "", /cannot grant the role admin/);
    assert.equal((await server.api("GET", "/api/v1/oidc/config")).status, 404, "nothing saved");
    const toAuditor = await server.api(
      "PUT",
      "/api/v1/oidc/config",
      OIDC([{ group: "g", role: "auditor" }]),
      as(narrow),
    );
    assert.equal(toAuditor.status, 200, "a role it holds");
    const full = await server.api("PUT", "/api/v1/oidc/config", OIDC([{ group: "h", role: "admin" }]));
    assert.equal(full.status, 200, "an administrator maps to admin");
  });

  it("users are created, promoted and assigned only up to the caller's own role", async () => {
    const usersOnly = await keyOf(admin, ["users:manage", "users:read", "roles:manage"]);
    forbidden(
      await server.api<Problem>(
        "POST",
        "/api/v1/users",
        { username: "made-admin", role: "admin" },
        as(usersOnly),
      ),
      "create an admin",
    );
    const plain = await server.api<{ id: string }>(
      "POST",
      "/api/v1/users",
      { username: "made-plain", role: null },
      as(usersOnly),
    );
    assert.equal(plain.status, 201, "a user with no role gives nothing");
    forbidden(
      await server.api<Problem>(
        "PUT",
        `/api/v1/users/${plain.body.id}/role`,
        { role: "admin" },
        as(usersOnly),
      ),
      "promote to admin",
    );
    forbidden(
      await server.api<Problem>("PUT", `/api/v1/users/${admin.id}/role`, { role: null }, as(usersOnly)),
      "demote an admin",
    );
    const product = await server.api<{ id: string }>("POST", "/api/v1/products", { name: "Gateway G1" });
    forbidden(
      await server.api<Problem>(
        "POST",
        `/api/v1/users/${plain.body.id}/role-assignments`,
        { role: "operator", productId: product.body.id },
        as(usersOnly),
      ),
      "assign a product role",
    );
    forbidden(
      await server.api<Problem>("DELETE", `/api/v1/users/${admin.id}/totp`, undefined, as(usersOnly)),
      "reset an admin's second factor",
    );
    // Positive controls: an administrator does each of these.
    assert.equal(
      (await server.api("PUT", `/api/v1/users/${plain.body.id}/role`, { role: "auditor" })).status,
      200,
    );
    const assigned = await server.api<{ id: string }>(
      "POST",
      `/api/v1/users/${plain.body.id}/role-assignments`,
      {
        role: "operator",
        productId: product.body.id,
      },
    );
    assert.equal(assigned.status, 201);
    forbidden(
      await server.api<Problem>(
        "DELETE",
        `/api/v1/role-assignments/${assigned.body.id}`,
        undefined,
        as(usersOnly),
      ),
      "remove an assignment it could not make",
    );
    assert.equal((await server.api("DELETE", `/api/v1/role-assignments/${assigned.body.id}`)).status, 204);
    assert.equal((await server.api("DELETE", `/api/v1/users/${admin.id}/totp`)).status, 204);
  });

  it("an API key makes no key wider or longer-lived than itself", async () => {
    const shortLived = await keyOf(operator, "operator", Date.now() + 2 * DAY_MS);
    const longer = await server.api<Problem>(
      "POST",
      "/api/v1/api-keys",
      { name: "longer", expiresInDays: 90 },
      as(shortLived),
    );
    forbidden(longer, "a key outliving the key that made it");
    const within = await server.api(
      "POST",
      "/api/v1/api-keys",
      { name: "within", expiresInDays: 1 },
      as(shortLived),
    );
    assert.equal(within.status, 201);
    const labelled = await server.api<Problem>(
      "POST",
      "/api/v1/api-keys",
      { name: "labelled", role: "admin", permissions: ["devices:read"] },
      as(operatorKey),
    );
    forbidden(labelled, "a key labelled with a role above the caller's");
  });

  it("an operator certificate is made only by a principal holding all of its user's grants, and no longer than its key", async () => {
    const narrow = await keyOf(admin, ["operator-certificates:issue"]);
    forbidden(
      await server.api<Problem>("POST", "/api/v1/operator-certificates", { csr: csrPem() }, as(narrow)),
      "a narrowed admin key minting an admin certificate",
    );
    const shortLived = await keyOf(operator, "operator", Date.now() + 2 * DAY_MS);
    forbidden(
      await server.api<Problem>(
        "POST",
        "/api/v1/operator-certificates",
        { csr: csrPem(), validityDays: 90 },
        as(shortLived),
      ),
      "a certificate outliving the key that made it",
    );
    const csr = csrPem();
    const own = await server.api<{ chainPem: string; notAfter: string }>(
      "POST",
      "/api/v1/operator-certificates",
      { csr, validityDays: 30 },
      as(operatorKey),
    );
    assert.equal(own.status, 201, "an operator's full key makes its own certificate");
    // Signed in with that certificate, it cannot make a longer-lived one (nor a longer-lived key).
    const withCertificate = (path: string, body: unknown) =>
      httpsRequest({
        url: new URL(path, server.httpUrl).href,
        method: "POST",
        ca: server.rootPem,
        cert: own.body.chainPem,
        key: requests.get(csr)!,
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      }).then((res) => ({ status: res.status, body: JSON.parse(res.body.toString()) as Problem }));
    forbidden(
      await withCertificate("/api/v1/operator-certificates", { csr: csrPem(), validityDays: 90 }),
      "a certificate outliving the certificate that made it",
    );
    forbidden(
      await withCertificate("/api/v1/api-keys", { name: "longer", expiresInDays: 90 }),
      "a key outliving the certificate that made it",
    );
    const shorter = await withCertificate("/api/v1/operator-certificates", {
      csr: csrPem(),
      validityDays: 7,
    });
    assert.equal(shorter.status, 201, `within its lifetime: ${JSON.stringify(shorter.body)}`);
  });
});
