import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createApiKey } from "../../packages/server/src/access/api-keys.ts";
import { createUser } from "../../packages/server/src/access/users.ts";
import { Browser, prepareAdmin, SESSION_COOKIE, totpCode } from "../access-helpers.ts";
import { startTestServer, type TestServer } from "../helpers.ts";

interface Problem {
  code: string;
  detail?: string;
}

const PASSWORD = "a long operator passphrase";

describe("sessions, CSRF, second factor, lockout and scoped API keys", () => {
  let server: TestServer;
  let admin: Awaited<ReturnType<typeof prepareAdmin>>;

  before(async () => {
    server = await startTestServer();
    await server.api("PUT", "/api/v1/policies/rate-limits", { signIn: 1000, secondFactor: 1000 });
    admin = await prepareAdmin(server);
  });
  after(async () => {
    await server.close();
  });

  async function newUser(username: string, role: string | null) {
    const created = await server.api<{ id: string; oneTimePassword: string }>("POST", "/api/v1/users", {
      username,
      role,
    });
    assert.equal(created.status, 201);
    const browser = new Browser(server);
    await browser.signIn(username, created.body.oneTimePassword);
    const changed = await browser.call("POST", "/api/v1/me/password", {
      currentPassword: created.body.oneTimePassword,
      newPassword: PASSWORD,
    });
    assert.equal(changed.status, 204);
    return { id: created.body.id, browser };
  }

  it("the session cookie is __Host-, Secure, HttpOnly, SameSite=Strict", async () => {
    const res = await server.api(
      "POST",
      "/api/v1/sessions",
      { username: "admin", password: admin.password, code: totpCode(admin.secret, 1) },
      { authorization: "" },
    );
    assert.equal(res.status, 201);
    const cookie = ([] as string[])
      .concat(res.headers["set-cookie"] as string[])
      .find((c) => c.startsWith(SESSION_COOKIE));
    assert.ok(cookie);
    assert.match(cookie, /; Path=\//);
    assert.match(cookie, /; Secure/);
    assert.match(cookie, /; HttpOnly/);
    assert.match(cookie, /; SameSite=Strict/);
    assert.doesNotMatch(cookie, /Domain=/i);
  });

  it("a second factor is required, and a used TOTP code is refused on replay", async () => {
    const { browser } = await newUser("replay", "auditor");
    const enrol = await browser.call<{ secret: string }>("POST", "/api/v1/me/totp");
    assert.equal(
      (await browser.call("POST", "/api/v1/me/totp/confirm", { code: totpCode(enrol.body.secret) })).status,
      200,
    );
    const missing = await new Browser(server).signIn("replay", PASSWORD);
    assert.equal((missing.body as unknown as Problem).code, "BW_ERR_MFA_REQUIRED");
    // The next step's code (inside the ±1 window) has not been used yet.
    const code = totpCode(enrol.body.secret, 1);
    assert.equal((await new Browser(server).signIn("replay", PASSWORD, { code })).status, 201);
    const replay = await new Browser(server).signIn("replay", PASSWORD, { code });
    assert.equal(replay.status, 401);
    assert.equal((replay.body as unknown as Problem).code, "BW_ERR_MFA_INVALID");
    const older = await new Browser(server).signIn("replay", PASSWORD, { code: totpCode(enrol.body.secret) });
    assert.equal(
      (older.body as unknown as Problem).code,
      "BW_ERR_MFA_INVALID",
      "a step before the last used one",
    );
  });

  it("a recovery code works once", async () => {
    const [code] = admin.recoveryCodes;
    const first = await new Browser(server).signIn("admin", admin.password, { recoveryCode: code! });
    assert.equal(first.status, 201);
    const again = await new Browser(server).signIn("admin", admin.password, { recoveryCode: code! });
    assert.equal(again.status, 401);
    assert.equal((again.body as unknown as Problem).code, "BW_ERR_MFA_INVALID");
  });

  it("cookie-authenticated changes need the CSRF token; API keys do not", async () => {
    const { browser } = await newUser("csrf-op", "operator");
    const withToken = await browser.call("POST", "/api/v1/enrolment-tokens", { group: "default" });
    assert.equal(withToken.status, 201);
    const missing = await browser.call<Problem>(
      "POST",
      "/api/v1/enrolment-tokens",
      { group: "default" },
      { "x-csrf-token": "" },
    );
    assert.equal(missing.status, 403);
    assert.equal(missing.body.code, "BW_ERR_CSRF");
    const forged = await browser.call<Problem>(
      "POST",
      "/api/v1/enrolment-tokens",
      { group: "default" },
      { "x-csrf-token": "A".repeat(43) },
    );
    assert.equal(forged.body.code, "BW_ERR_CSRF");
    // Reads are safe methods and need no token.
    const read = await browser.call("GET", "/api/v1/devices", undefined, { "x-csrf-token": "" });
    assert.equal(read.status, 200);
    const key = await server.api("POST", "/api/v1/enrolment-tokens", { group: "default" });
    assert.equal(key.status, 201);
  });

  it("sign-in always issues a new session: a planted cookie is never promoted (no fixation)", async () => {
    await newUser("fixation-victim", "auditor");
    // The attacker's own valid session, planted in the victim's browser, and a made-up value.
    const attacker = (await newUser("fixation-attacker", "auditor")).browser;
    const planted = attacker.cookie!;
    const victim = new Browser(server);
    victim.cookie = planted;
    const signedIn = await victim.signIn("fixation-victim", PASSWORD);
    assert.equal(signedIn.status, 201);
    assert.notEqual(victim.cookie, planted);
    const me = await victim.call<{ user: { username: string } }>("GET", "/api/v1/sessions/current");
    assert.equal(me.body.user.username, "fixation-victim");
    // The planted session was ended by the sign-in, so it cannot ride along with the victim's.
    const plantedNow = await attacker.call<Problem>("GET", "/api/v1/sessions/current");
    assert.equal(plantedNow.status, 401);
    const madeUp = new Browser(server);
    madeUp.cookie = "x".repeat(43);
    assert.equal((await madeUp.signIn("fixation-victim", PASSWORD)).status, 201);
    assert.notEqual(madeUp.cookie, "x".repeat(43));
  });

  it("sessions are listed and revoked: one, all, and by an administrator", async () => {
    const { id, browser } = await newUser("revoke-me", "auditor");
    const second = new Browser(server);
    await second.signIn("revoke-me", PASSWORD);
    const third = new Browser(server);
    await third.signIn("revoke-me", PASSWORD);
    const list = await browser.call<{ items: { id: string }[] }>("GET", "/api/v1/sessions");
    assert.equal(list.body.items.length, 3);
    const secondId = (await second.call<{ sessionId: string }>("GET", "/api/v1/sessions/current")).body
      .sessionId;
    assert.equal((await browser.call("DELETE", `/api/v1/sessions/${secondId}`)).status, 204);
    assert.equal((await second.call("GET", "/api/v1/sessions/current")).status, 401);
    const byAdmin = await server.api<{ revoked: number }>("DELETE", `/api/v1/users/${id}/sessions`);
    assert.equal(byAdmin.body.revoked, 2);
    assert.equal((await third.call("GET", "/api/v1/sessions/current")).status, 401);
    const fourth = new Browser(server);
    await fourth.signIn("revoke-me", PASSWORD);
    assert.equal((await fourth.call("DELETE", "/api/v1/sessions/current")).status, 204);
    assert.equal((await fourth.call("GET", "/api/v1/sessions/current")).status, 401);
  });

  it("five wrong passwords lock the account, with an audit event and a notification", async () => {
    await newUser("lock-me", "auditor");
    for (let i = 0; i < 5; i++) {
      const res = await new Browser(server).signIn("lock-me", "wrong password guess");
      assert.equal(res.status, 401);
    }
    const locked = await new Browser(server).signIn("lock-me", PASSWORD);
    assert.equal(locked.status, 429);
    assert.equal((locked.body as unknown as Problem).code, "BW_ERR_ACCOUNT_LOCKED");
    const notes = await server.api<{ items: { kind: string; message: string }[] }>(
      "GET",
      "/api/v1/notifications",
    );
    assert.ok(notes.body.items.some((n) => n.kind === "account-locked" && n.message.includes("lock-me")));
    const audit = await server.api<{ items: { action: string; outcome: string }[] }>(
      "GET",
      "/api/v1/audit?limit=1000",
    );
    assert.ok(audit.body.items.some((e) => e.action === "auth.lockout"));
    assert.ok(audit.body.items.some((e) => e.action === "auth.sign-in" && e.outcome === "failure"));
  });

  it("17 wrong passwords sent in parallel leave the account locked, locked once", async () => {
    await newUser("race-me", "auditor");
    const guesses = await Promise.all(
      Array.from({ length: 17 }, () => new Browser(server).signIn("race-me", "wrong password guess")),
    );
    for (const res of guesses) assert.ok([401, 429].includes(res.status), `status ${res.status}`);
    const locked = await new Browser(server).signIn("race-me", PASSWORD);
    assert.equal(locked.status, 429);
    assert.equal((locked.body as unknown as Problem).code, "BW_ERR_ACCOUNT_LOCKED");
    const lockouts: unknown[] = [];
    for (let afterSeq = 0, more = true; more; ) {
      const page = await server.api<{ items: { seq: number; action: string; targetId: string | null }[] }>(
        "GET",
        `/api/v1/audit?limit=1000&afterSeq=${afterSeq}`,
      );
      lockouts.push(
        ...page.body.items.filter((e) => e.action === "auth.lockout" && e.targetId === "race-me"),
      );
      more = page.body.items.length === 1000;
      afterSeq = page.body.items.at(-1)?.seq ?? afterSeq;
    }
    assert.equal(lockouts.length, 1);
  });

  it("second-factor guesses on a signed-in session count toward the lockout", async () => {
    const { browser } = await newUser("guess-codes", "auditor");
    const enrol = await browser.call<{ secret: string }>("POST", "/api/v1/me/totp");
    const confirmed = await browser.call("POST", "/api/v1/me/totp/confirm", {
      code: totpCode(enrol.body.secret),
    });
    assert.equal(confirmed.status, 200);
    const right = totpCode(enrol.body.secret, 1);
    const wrong = right === "000000" ? "000001" : "000000";
    // node:http sends a DELETE body unframed unless its length is given.
    const disable = (code: string) =>
      browser.call<Problem>(
        "DELETE",
        "/api/v1/me/totp",
        { code },
        { "content-length": String(Buffer.byteLength(JSON.stringify({ code }))) },
      );
    for (let i = 0; i < 5; i++) {
      const res = await disable(wrong);
      assert.equal(res.body?.code, "BW_ERR_MFA_INVALID", `${res.status} ${JSON.stringify(res.body)}`);
    }
    const locked = await disable(right);
    assert.equal(locked.status, 429);
    assert.equal(locked.body.code, "BW_ERR_ACCOUNT_LOCKED");
    const signIn = await new Browser(server).signIn("guess-codes", PASSWORD, { code: right });
    assert.equal((signIn.body as unknown as Problem).code, "BW_ERR_ACCOUNT_LOCKED");
    const users = await server.api<{ items: { username: string; totpEnabled: boolean }[] }>(
      "GET",
      "/api/v1/users",
    );
    assert.equal(
      users.body.items.find((u) => u.username === "guess-codes")?.totpEnabled,
      true,
      "still enrolled",
    );
  });

  it("wrong current passwords at a password change count toward the lockout", async () => {
    const { browser } = await newUser("guess-password", "auditor");
    for (let i = 0; i < 5; i++) {
      const res = await browser.call<Problem>("POST", "/api/v1/me/password", {
        currentPassword: `wrong guess number ${i}`,
        newPassword: "a brand new passphrase",
      });
      assert.equal(res.body.code, "BW_ERR_FORBIDDEN");
    }
    const locked = await browser.call<Problem>("POST", "/api/v1/me/password", {
      currentPassword: PASSWORD,
      newPassword: "a brand new passphrase",
    });
    assert.equal(locked.status, 429);
    assert.equal(locked.body.code, "BW_ERR_ACCOUNT_LOCKED");
    const signIn = await new Browser(server).signIn("guess-password", PASSWORD);
    assert.equal(
      (signIn.body as unknown as Problem).code,
      "BW_ERR_ACCOUNT_LOCKED",
      "the password is unchanged and locked",
    );
  });

  it("an API key's scope is a subset of its owner's, checked at creation and at use", async () => {
    const { id, browser } = await newUser("key-owner", "operator");
    const escalate = await browser.call<Problem>("POST", "/api/v1/api-keys", {
      name: "k",
      permissions: ["users:manage"],
    });
    assert.equal(escalate.status, 403);
    const asAdmin = await browser.call<Problem>("POST", "/api/v1/api-keys", { name: "k", role: "admin" });
    assert.equal(asAdmin.status, 403);
    const created = await browser.call<{
      key: string;
      prefix: string;
      permissions: string[];
      expiresAt: string;
    }>("POST", "/api/v1/api-keys", {
      name: "k",
      permissions: ["devices:read", "enrolment-tokens:create"],
      expiresInDays: 7,
    });
    assert.equal(created.status, 201);
    assert.ok(created.body.key.startsWith(`${created.body.prefix}_`));
    assert.ok(Date.parse(created.body.expiresAt) > Date.now());
    const bearer = { authorization: `Bearer ${created.body.key}` };
    assert.equal((await server.api("GET", "/api/v1/devices", undefined, bearer)).status, 200);
    assert.equal(
      (await server.api("GET", "/api/v1/groups", undefined, bearer)).status,
      403,
      "outside the key's scope",
    );
    // The key is shown once: listing shows the prefix and last use, never the secret.
    const listed = await browser.call<{ items: { prefix: string; lastUsedAt: string | null }[] }>(
      "GET",
      "/api/v1/api-keys",
    );
    assert.ok(!JSON.stringify(listed.body).includes(created.body.key.slice(created.body.prefix.length + 1)));
    assert.ok(listed.body.items.find((k) => k.prefix === created.body.prefix)?.lastUsedAt);
    // The owner is demoted: the key loses what the owner no longer holds, at once.
    await server.api("PUT", `/api/v1/users/${id}/role`, { role: "auditor" });
    assert.equal(
      (await server.api("POST", "/api/v1/enrolment-tokens", { group: "default" }, bearer)).status,
      403,
    );
    assert.equal((await server.api("GET", "/api/v1/devices", undefined, bearer)).status, 200);
  });

  it("expired and revoked keys are refused", async () => {
    const owner = await createUser(server.store, {
      username: "expiring",
      password: "x",
      role: "operator",
      mustChangePassword: false,
    });
    const expired = await createApiKey(server.store, {
      ownerId: owner.id,
      name: "e",
      role: "operator",
      expiresAt: Date.now() - 1,
    });
    assert.equal(
      (await server.api("GET", "/api/v1/devices", undefined, { authorization: `Bearer ${expired.key}` }))
        .status,
      401,
    );
    const live = await createApiKey(server.store, {
      ownerId: owner.id,
      name: "l",
      role: "operator",
      expiresAt: null,
    });
    assert.equal(
      (await server.api("DELETE", `/api/v1/api-keys/${live.info.id}`)).status,
      204,
      "admins revoke any key",
    );
    assert.equal(
      (await server.api("GET", "/api/v1/devices", undefined, { authorization: `Bearer ${live.key}` })).status,
      401,
    );
  });

  it("the 2FA policy can cover more roles", async () => {
    const { browser } = await newUser("policy-op", "operator");
    assert.equal((await browser.call("GET", "/api/v1/devices")).status, 200);
    const set = await server.api("PUT", "/api/v1/policies/mfa", { requiredRoles: ["admin", "operator"] });
    assert.equal(set.status, 200);
    const refused = await browser.call<Problem>("GET", "/api/v1/devices");
    assert.equal(refused.body.code, "BW_ERR_MFA_ENROLMENT_REQUIRED");
    await server.api("PUT", "/api/v1/policies/mfa", { requiredRoles: ["admin"] });
  });

  it("sign-in is rate limited per IP, reported as an event and a notification", async () => {
    await server.api("PUT", "/api/v1/policies/rate-limits", { signIn: 3 });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push((await new Browser(server).signIn("nobody", "wrong password guess")).status);
    assert.ok(statuses.includes(429), `statuses ${statuses}`);
    await server.api("PUT", "/api/v1/policies/rate-limits", { signIn: 1000 });
    const notes = await server.api<{ items: { kind: string }[] }>("GET", "/api/v1/notifications");
    assert.ok(notes.body.items.some((n) => n.kind === "rate-limited"));
  });

  it("enrolment (EST) has its own per-IP limit", async () => {
    await server.api("PUT", "/api/v1/policies/rate-limits", { enrolment: 2 });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++)
      statuses.push(
        (await server.api("GET", "/.well-known/est/cacerts", undefined, { authorization: "" })).status,
      );
    await server.api("PUT", "/api/v1/policies/rate-limits", { enrolment: 600 });
    assert.deepEqual(statuses.slice(0, 2), [200, 200]);
    assert.equal(statuses[3], 429);
  });
});
