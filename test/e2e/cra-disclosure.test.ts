import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as openpgp from "openpgp";
import { startTestServer, type TestServer } from "../helpers.ts";

/** security.txt, the CVD policy, and the public intake with its limits (issue #16 items 6 and 9). */
const reports = async (server: TestServer) =>
  Number((await server.store.get<{ n: number }>(`SELECT COUNT(*) AS n FROM cra_intake_reports`))?.n ?? 0);
const anonymous = { authorization: "" };

describe("CRA disclosure: security.txt and the vulnerability intake (issue #16)", () => {
  let server: TestServer;
  let product: string;
  let confirmation: string;
  before(async () => {
    server = await startTestServer();
    product = (await server.api<{ id: string }>("POST", "/api/v1/products", { name: "gateway" })).body.id;
  });
  after(async () => {
    await server.close();
  });

  it("publishes security.txt (RFC 9116) and the CVD policy once configured, and the matrix follows", async () => {
    const missing = await server.api<{ code: string }>(
      "GET",
      "/.well-known/security.txt",
      undefined,
      anonymous,
    );
    assert.equal(missing.status, 404);
    const before = await server.api<{ requirements: { id: string; status: string }[] }>(
      "GET",
      `/api/v1/products/${product}/annex-i`,
    );
    assert.equal(before.body.requirements.find((r) => r.id === "II-5")!.status, "not-met");
    assert.equal(before.body.requirements.find((r) => r.id === "II-6")!.status, "not-met");
    const saved = await server.api("PUT", "/api/v1/cra/disclosure", {
      contact: ["mailto:psirt@acme.example", "https://acme.example/security"],
      policy: "We acknowledge reports within 2 working days and coordinate disclosure within 90 days.",
      preferredLanguages: ["en", "de"],
      intakeEnabled: true,
      encryptionKey: null,
    });
    assert.equal(saved.status, 200, JSON.stringify(saved.body));
    const file = await server.api<string>("GET", "/.well-known/security.txt", undefined, anonymous);
    assert.equal(file.status, 200);
    assert.match(String(file.headers["content-type"]), /^text\/plain; charset=utf-8/);
    const fields = new Map<string, string[]>();
    for (const line of file.body.trim().split("\n")) {
      const [name, ...value] = line.split(": ");
      fields.set(name!, [...(fields.get(name!) ?? []), value.join(": ")]);
    }
    assert.deepEqual(fields.get("Contact"), ["mailto:psirt@acme.example", "https://acme.example/security"]);
    const expires = Date.parse(fields.get("Expires")![0]!);
    assert.ok(
      expires > Date.now() && expires - Date.now() < 365 * 86_400_000,
      "Expires is less than a year ahead",
    );
    assert.equal(fields.get("Canonical")![0], new URL("/.well-known/security.txt", server.httpUrl).href);
    const policy = await server.api<string>(
      "GET",
      new URL(fields.get("Policy")![0]!).pathname,
      undefined,
      anonymous,
    );
    assert.match(policy.body, /coordinate disclosure/);
    const after = await server.api<{ requirements: { id: string; status: string }[] }>(
      "GET",
      `/api/v1/products/${product}/annex-i`,
    );
    assert.equal(after.body.requirements.find((r) => r.id === "II-5")!.status, "met");
    assert.equal(after.body.requirements.find((r) => r.id === "II-6")!.status, "met");
  });

  it("refuses malformed, oversized and falsely encrypted reports with a clear error, storing nothing", async () => {
    const before = await reports(server);
    const malformed = await server.api<{ code: string }>(
      "POST",
      "/api/v1/cra/intake",
      '{"title": "x", "descr',
      {
        ...anonymous,
        "content-type": "application/json",
      },
    );
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.code, "BW_ERR_VALIDATION");
    const oversized = await server.api<{ code: string }>(
      "POST",
      "/api/v1/cra/intake",
      { title: "big", description: "A".repeat(40 * 1024) },
      anonymous,
    );
    assert.equal(oversized.status, 413);
    assert.equal(oversized.body.code, "BW_ERR_PAYLOAD_TOO_LARGE");
    const fake = await server.api<{ code: string; detail: string }>(
      "POST",
      "/api/v1/cra/intake",
      { title: "secret", description: "not really encrypted", encrypted: true },
      anonymous,
    );
    assert.equal(fake.status, 400);
    assert.match(fake.body.detail, /OpenPGP/);
    assert.equal(await reports(server), before, "nothing was stored");
  });

  it("accepts a report without an account, gives a confirmation id, and stops a flood from one address", async () => {
    const before = await reports(server);
    const accepted: string[] = [];
    let refused: { status: number; body: { code: string } } | undefined;
    for (let i = 0; i < 10 && !refused; i++) {
      const res = await server.api<{ confirmationId: string; code: string }>(
        "POST",
        "/api/v1/cra/intake",
        {
          title: `RCE in the web UI #${i}`,
          description: "POST /cgi-bin/x runs a shell",
          contact: "mailto:r@example.org",
        },
        anonymous,
      );
      if (res.status === 202) accepted.push(res.body.confirmationId);
      else refused = res;
    }
    assert.ok(accepted.length >= 1, "the first report is accepted");
    assert.equal(refused?.status, 429);
    assert.equal(refused?.body.code, "BW_ERR_RATE_LIMITED");
    assert.equal(await reports(server), before + accepted.length, "exactly the accepted reports are stored");
    confirmation = accepted[0]!;
    const status = await server.api<{ state: string }>(
      "GET",
      `/api/v1/cra/intake/${confirmation}/status`,
      undefined,
      anonymous,
    );
    assert.equal(status.body.state, "received");
  });

  it("moves a report through triage with an audit trail, and escalates it to an Article 14 event dated from receipt", async () => {
    const skip = await server.api<{ code: string }>("POST", `/api/v1/cra/intake/${confirmation}/state`, {
      state: "accepted",
    });
    assert.equal(skip.status, 409);
    assert.equal(skip.body.code, "BW_ERR_CONFLICT");
    await server.api("POST", `/api/v1/cra/intake/${confirmation}/state`, { state: "triaging" });
    const escalated = await server.api<{ state: string; eventId: string; receivedAt: number }>(
      "POST",
      `/api/v1/cra/intake/${confirmation}/state`,
      {
        state: "accepted",
        note: "reproduced",
        escalate: { productId: product, title: "RCE in the web UI, exploited" },
      },
    );
    assert.equal(escalated.status, 200, JSON.stringify(escalated.body));
    assert.equal(escalated.body.state, "accepted");
    const event = await server.api<{ trigger: string; awareAt: number; kind: string }>(
      "GET",
      `/api/v1/cra/reports/${escalated.body.eventId}`,
    );
    assert.equal(event.body.trigger, "intake");
    assert.equal(event.body.kind, "incident");
    assert.equal(event.body.awareAt, escalated.body.receivedAt);
    const trail = await server.store.all<{ action: string }>(
      `SELECT action FROM audit_log WHERE target_id = ? ORDER BY seq`,
      [confirmation],
    );
    assert.deepEqual(
      trail.map((t) => t.action),
      ["cra.intake.receive", "cra.intake.triaging", "cra.intake.accepted"],
    );
  });

  it("signs security.txt before any CSAF advisory exists, with a key then published for verification", async () => {
    const saved = await server.api("PUT", "/api/v1/cra/disclosure", {
      contact: ["mailto:psirt@acme.example?subject=security"],
      policy: "We coordinate disclosure within 90 days.",
      preferredLanguages: ["en"],
      intakeEnabled: true,
      encryptionKey: null,
      signed: true,
    });
    assert.equal(saved.status, 200, JSON.stringify(saved.body));
    const txt = (await server.api<string>("GET", "/.well-known/security.txt", undefined, anonymous)).body;
    // RFC 9116 §2.3: an OpenPGP cleartext signature; no CSAF line yet (CSAF 2.0 §7.1.8 needs a provider).
    const message = await openpgp.readCleartextMessage({ cleartextMessage: txt });
    assert.doesNotMatch(message.getText(), /^CSAF:/m);
    // openpgp.js keeps the parsed signature on the message; its types do not declare it.
    const { signature } = message as unknown as { signature: openpgp.Signature };
    const issuer = signature.packets[0]!.issuerFingerprint;
    assert.ok(issuer, "the signature names its key's fingerprint");
    const fingerprint = Buffer.from(issuer).toString("hex").toUpperCase();
    // The key is the CSAF signing key (CSAF 2.0 §7.1.20), published under /.well-known/csaf/openpgp/.
    const key = await server.api<string>(
      "GET",
      `/.well-known/csaf/openpgp/${fingerprint}.asc`,
      undefined,
      anonymous,
    );
    assert.equal(key.status, 200);
    const publicKey = await openpgp.readKey({ armoredKey: key.body });
    assert.deepEqual(
      publicKey.users.map((u) => u.userID?.email),
      ["psirt@acme.example"],
    );
    const verified = await openpgp.verify({ message, verificationKeys: publicKey });
    await assert.doesNotReject(verified.signatures[0]!.verified);
  });

  it("moves Expires forward on its own once under 30 days are left, re-signs, and audits it once", async () => {
    const read = async () => {
      const txt = (await server.api<string>("GET", "/.well-known/security.txt", undefined, anonymous)).body;
      const message = await openpgp.readCleartextMessage({ cleartextMessage: txt });
      const expires = /^Expires: (.+)$/m.exec(message.getText())![1]!;
      return { message, expires: Date.parse(expires) };
    };
    const refreshes = async () =>
      Number(
        (
          await server.store.get<{ n: number }>(
            `SELECT COUNT(*) AS n FROM audit_log WHERE action = 'cra.disclosure.expires-refresh'`,
          )
        )?.n,
      );
    // Positive control first: a fresh file (saved above, a year ahead) is left as it is.
    const fresh = await read();
    assert.ok(fresh.expires - Date.now() > 300 * 86_400_000);
    assert.equal(await refreshes(), 0);
    // Age the stored settings: 10 days left (RFC 9116 §2.5.5 would soon call the file stale).
    const row = await server.store.get<{ value: string }>(
      `SELECT value FROM settings WHERE key = 'cra.disclosure'`,
    );
    const aged = { ...JSON.parse(row!.value), expiresAt: Date.now() + 10 * 86_400_000 };
    await server.store.run(`UPDATE settings SET value = ? WHERE key = 'cra.disclosure'`, [
      JSON.stringify(aged),
    ]);
    const [a, b] = await Promise.all([read(), read()]);
    for (const served of [a, b]) {
      assert.ok(served.expires - Date.now() > 300 * 86_400_000, "Expires moved about a year ahead");
      assert.ok(served.expires - Date.now() < 365 * 86_400_000, "and stays less than a year ahead");
    }
    assert.equal(await refreshes(), 1, "two concurrent readers refresh once");
    // The refreshed text is what the signature covers.
    const { signature } = a.message as unknown as { signature: openpgp.Signature };
    const fingerprint = Buffer.from(signature.packets[0]!.issuerFingerprint!).toString("hex").toUpperCase();
    const armored = await server.api<string>(
      "GET",
      `/.well-known/csaf/openpgp/${fingerprint}.asc`,
      undefined,
      anonymous,
    );
    const verified = await openpgp.verify({
      message: a.message,
      verificationKeys: await openpgp.readKey({ armoredKey: armored.body }),
    });
    await assert.doesNotReject(verified.signatures[0]!.verified);
  });
});
