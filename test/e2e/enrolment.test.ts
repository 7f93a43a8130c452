import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { httpsRequest } from "../../packages/sdk/src/https.ts";
import { generateKeyPair } from "../../packages/sdk/src/x509/algorithms.ts";
import { buildCsr } from "../../packages/sdk/src/x509/csr.ts";
import { commonNameOnly } from "../../packages/sdk/src/x509/name.ts";
import { Browser, totpCode } from "../access-helpers.ts";
import { enrolDirect } from "../enrol-helpers.ts";
import { createToken, startTestServer, type TestServer } from "../helpers.ts";

interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail?: string;
}

async function simpleenroll(
  server: TestServer,
  token: string | undefined,
  body: string | Buffer,
  contentType = "application/pkcs10",
) {
  const res = await httpsRequest({
    url: new URL("/.well-known/est/simpleenroll", server.httpUrl).href,
    method: "POST",
    ca: server.rootPem,
    headers: {
      "content-type": contentType,
      ...(token === undefined
        ? {}
        : { authorization: `Basic ${Buffer.from(`dev:${token}`).toString("base64")}` }),
    },
    body,
  });
  const text = res.body.toString("utf8");
  return {
    status: res.status,
    contentType: String(res.headers["content-type"]),
    text,
    problem: res.status >= 400 ? (JSON.parse(text) as Problem) : undefined,
  };
}

function csrBase64(
  algorithm: "ecdsa-p256" | "ml-dsa-65" = "ecdsa-p256",
  mutate?: (der: Buffer) => Buffer,
): string {
  const keys = generateKeyPair(algorithm);
  const der = buildCsr({ subjectDer: commonNameOnly("d"), algorithm, ...keys });
  return (mutate ? mutate(der) : der).toString("base64");
}

describe("EST enrolment: tokens and bad requests", () => {
  let server: TestServer;
  let counts: () => Promise<{ devices: number; certificates: number; uses: number }>;
  let baseline: { devices: number; certificates: number; uses: number };

  before(async () => {
    server = await startTestServer();
    counts = async () => {
      const one = async (sql: string) => Number((await server.store.get<{ n: number }>(sql))?.n ?? 0);
      return {
        devices: await one("SELECT COUNT(*) AS n FROM devices"),
        certificates: await one("SELECT COUNT(*) AS n FROM certificates"),
        uses: await one("SELECT COALESCE(SUM(uses), 0) AS n FROM enrolment_tokens"),
      };
    };
  });
  beforeEach(async () => {
    baseline = await counts();
  });
  after(async () => {
    await server.close();
  });

  it("a token is single-use: the second enrolment is refused and changes nothing", async () => {
    const token = await createToken(server);
    const first = await simpleenroll(server, token, csrBase64());
    assert.equal(first.status, 200);
    assert.match(first.contentType, /^application\/pkcs7-mime; smime-type=certs-only/);
    const afterFirst = await counts();
    const second = await simpleenroll(server, token, csrBase64());
    assert.equal(second.status, 401);
    assert.equal(second.problem?.code, "BW_ERR_ENROLMENT_TOKEN_INVALID");
    assert.match(second.contentType, /^application\/problem\+json/);
    assert.deepEqual(await counts(), afterFirst);
  });

  it("a token with max uses N enrols exactly N devices", async () => {
    const token = await createToken(server, "default", { maxUses: 2 });
    await enrolDirect(server, token);
    await enrolDirect(server, token);
    await assert.rejects(enrolDirect(server, token), /unknown, used up or expired/);
  });

  it("an expired token is refused", async () => {
    const token = await createToken(server);
    await server.store.run(`UPDATE enrolment_tokens SET expires_at = ? WHERE uses = 0`, [Date.now() - 1000]);
    const res = await simpleenroll(server, token, csrBase64());
    assert.equal(res.status, 401);
    assert.equal(res.problem?.code, "BW_ERR_ENROLMENT_TOKEN_INVALID");
    assert.deepEqual(await counts(), baseline);
  });

  it("no credentials: 401 with a Basic challenge", async () => {
    const res = await simpleenroll(server, undefined, csrBase64());
    assert.equal(res.status, 401);
    assert.equal(res.problem?.code, "BW_ERR_UNAUTHENTICATED");
  });

  const badRequests: [string, () => string | Buffer, string, number, string?][] = [
    [
      "garbage base64",
      () => Buffer.from("definitely not a CSR").toString("base64"),
      "BW_ERR_CSR_MALFORMED",
      400,
    ],
    ["not base64 at all", () => "%%%% not base64 %%%%", "BW_ERR_CSR_MALFORMED", 400],
    ["empty body", () => "", "BW_ERR_CSR_MALFORMED", 400],
    [
      "truncated DER",
      () => csrBase64("ecdsa-p256", (d) => d.subarray(0, d.length - 10)),
      "BW_ERR_CSR_MALFORMED",
      400,
    ],
    [
      "wrong signature (signed by another key than the one it carries)",
      () => {
        const keys = generateKeyPair("ecdsa-p256");
        const other = generateKeyPair("ecdsa-p256");
        const der = buildCsr({
          subjectDer: commonNameOnly("d"),
          algorithm: "ecdsa-p256",
          privateKey: other.privateKey,
          publicKey: keys.publicKey,
        });
        return der.toString("base64");
      },
      "BW_ERR_CSR_SIGNATURE",
      400,
    ],
    [
      "a key algorithm the group policy does not allow",
      () => csrBase64("ml-dsa-65"),
      "BW_ERR_CSR_POLICY",
      400,
    ],
    ["oversized", () => Buffer.alloc(200 * 1024, 0x41).toString("ascii"), "BW_ERR_PAYLOAD_TOO_LARGE", 413],
    ["wrong content type", () => csrBase64(), "BW_ERR_UNSUPPORTED_MEDIA_TYPE", 415, "text/plain"],
  ];

  for (const [name, body, code, status, contentType] of badRequests) {
    it(`bad CSR — ${name}: ${status} ${code}, token untouched, nothing stored`, async () => {
      const token = await createToken(server);
      baseline = await counts();
      const res = await simpleenroll(server, token, body(), contentType);
      assert.equal(res.status, status, res.text);
      assert.equal(res.problem?.code, code);
      assert.doesNotMatch(res.text, /at .*\.ts:\d+|stack/i);
      assert.deepEqual(await counts(), baseline);
      // The token is still good afterwards: a failed attempt did not burn it.
      assert.equal((await simpleenroll(server, token, csrBase64())).status, 200);
    });
  }
});

describe("HTTP errors are RFC 9457 problem documents", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  it("unknown route, bad JSON, schema violations, missing auth, forbidden", async () => {
    const notFound = await server.api<Problem>("GET", "/api/v1/nope");
    assert.equal(notFound.status, 404);
    assert.equal(notFound.body.code, "BW_ERR_ROUTE_NOT_FOUND");
    assert.match(String(notFound.headers["content-type"]), /^application\/problem\+json/);

    const badJson = await server.api<Problem>("POST", "/api/v1/enrolment-tokens", "{not json", {
      "content-type": "application/json",
    });
    assert.equal(badJson.status, 400);
    assert.equal(badJson.body.code, "BW_ERR_VALIDATION");

    const schema = await server.api<Problem>("POST", "/api/v1/enrolment-tokens", {
      group: "default",
      ttlSeconds: 1,
    });
    assert.equal(schema.status, 400);
    assert.equal(schema.body.code, "BW_ERR_VALIDATION");

    const anonymous = await server.api<Problem>("GET", "/api/v1/devices", undefined, { authorization: "" });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers["www-authenticate"], 'Bearer realm="bulwark"');

    const keyRes = await server.api<{ key: string }>("POST", "/api/v1/api-keys", {
      name: "audit",
      role: "auditor",
    });
    assert.equal(keyRes.status, 201);
    const forbidden = await server.api<Problem>(
      "POST",
      "/api/v1/enrolment-tokens",
      { group: "default" },
      { authorization: `Bearer ${keyRes.body.key}` },
    );
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.body.code, "BW_ERR_FORBIDDEN");

    const type = await server.api<{ code: string; status: number }>("GET", forbidden.body.type, undefined, {
      authorization: "",
    });
    assert.equal(type.status, 200);
    assert.equal(type.body.code, "BW_ERR_FORBIDDEN");
  });

  it("the first-run admin must change the one-time password, then enrol a second factor", async () => {
    const initial = server.firstRun!.adminPassword;
    const browser = new Browser(server);
    const signedIn = await browser.signIn("admin", initial);
    assert.equal(signedIn.status, 201);
    assert.equal(signedIn.body.mustChangePassword, true);
    const refused = await browser.call<Problem>("POST", "/api/v1/api-keys", { name: "x" });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.code, "BW_ERR_PASSWORD_CHANGE_REQUIRED");
    const weak = await browser.call<Problem>("POST", "/api/v1/me/password", {
      currentPassword: initial,
      newPassword: "short",
    });
    assert.equal(weak.status, 400);
    const changed = await browser.call("POST", "/api/v1/me/password", {
      currentPassword: initial,
      newPassword: "correct horse battery staple",
    });
    assert.equal(changed.status, 204);
    // CRA Annex I Part I (2)(d): the admin role requires a second factor before anything else.
    const noMfa = await browser.call<Problem>("POST", "/api/v1/api-keys", { name: "x" });
    assert.equal(noMfa.status, 403);
    assert.equal(noMfa.body.code, "BW_ERR_MFA_ENROLMENT_REQUIRED");
    const enrol = await browser.call<{ secret: string; otpauthUri: string }>("POST", "/api/v1/me/totp");
    assert.equal(enrol.status, 201);
    assert.match(enrol.body.otpauthUri, /^otpauth:\/\/totp\/Bulwark:admin\?secret=/);
    const confirmed = await browser.call("POST", "/api/v1/me/totp/confirm", {
      code: totpCode(enrol.body.secret),
    });
    assert.equal(confirmed.status, 200);
    const created = await browser.call<{ key: string }>("POST", "/api/v1/api-keys", { name: "x" });
    assert.equal(created.status, 201);
    assert.match(created.body.key, /^bwk_[a-z2-7]{12}_/);
    const old = await new Browser(server).signIn("admin", initial);
    assert.equal(old.status, 401);
    // HTTP Basic passwords are no longer accepted on the API: sign in for a session instead.
    const basic = await server.api<Problem>("GET", "/api/v1/api-keys", undefined, {
      authorization: `Basic ${Buffer.from("admin:correct horse battery staple").toString("base64")}`,
    });
    assert.equal(basic.status, 401);
  });
});

describe("input validation at the edge", () => {
  it("unknown body fields are refused with 400, not silently dropped", async () => {
    const server = await startTestServer();
    try {
      const res = await server.api<Problem>("POST", "/api/v1/enrolment-tokens", {
        group: "default",
        admin: true,
      });
      assert.equal(res.status, 400);
      assert.equal(res.body.code, "BW_ERR_VALIDATION");
      assert.match(res.body.detail ?? "", /additional properties/i);
    } finally {
      await server.close();
    }
  });
});
