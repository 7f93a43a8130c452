import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { httpsRequest } from "../../packages/sdk/src/https.ts";
import { enrolDirect } from "../enrol-helpers.ts";
import { CLI, createToken, runCli, startTestServer, type TestServer, tempDir } from "../helpers.ts";

describe("operator certificates, audit verification and the access CLI", () => {
  let server: TestServer;
  let env: Record<string, string>;
  let dir: string;

  before(async () => {
    server = await startTestServer();
    dir = tempDir("bulwark-access-cli-");
    env = {
      BULWARK_URL: server.httpUrl,
      BULWARK_CA_FILE: server.rootPemPath,
      BULWARK_API_KEY: server.adminKey,
    };
  });
  after(async () => {
    await server.close();
  });

  it("an operator signs in with a client certificate from the Operator CA until it is revoked", async () => {
    const issued = await runCli(CLI, ["operator-cert", "issue", "--out-dir", join(dir, "op")], env);
    assert.equal(issued.code, 0, issued.stderr);
    const serial = issued.stdout.split("\n")[0]!;
    const certEnv = {
      BULWARK_URL: server.httpUrl,
      BULWARK_CA_FILE: server.rootPemPath,
      BULWARK_CLIENT_CERT: join(dir, "op", "operator.cert.pem"),
      BULWARK_CLIENT_KEY: join(dir, "op", "operator.key.pem"),
    };
    const listed = await runCli(CLI, ["device", "list", "--json"], certEnv);
    assert.equal(listed.code, 0, listed.stderr);
    const me = await httpsRequest({
      url: new URL("/api/v1/sessions/current", server.httpUrl).href,
      ca: server.rootPem,
      cert: readFileSync(certEnv.BULWARK_CLIENT_CERT, "utf8"),
      key: readFileSync(certEnv.BULWARK_CLIENT_KEY, "utf8"),
    });
    const body = JSON.parse(me.body.toString()) as { kind: string; user: { username: string } };
    assert.equal(body.kind, "client-cert");
    assert.equal(body.user.username, "admin");
    const revoked = await runCli(CLI, ["operator-cert", "revoke", serial], env);
    assert.equal(revoked.code, 0, revoked.stderr);
    const after = await runCli(CLI, ["device", "list"], certEnv);
    assert.equal(after.code, 1);
    assert.match(after.stderr, /BW_ERR_UNAUTHENTICATED/);
    const audit = await server.api<{ items: { action: string }[] }>("GET", "/api/v1/audit?limit=1000");
    const actions = audit.body.items.map((e) => e.action);
    assert.ok(actions.includes("certificate.issue") && actions.includes("certificate.revoke"));
  });

  it("a device certificate never signs in as an operator", async () => {
    const device = await enrolDirect(server, await createToken(server));
    const res = await httpsRequest({
      url: new URL("/api/v1/devices", server.httpUrl).href,
      ca: server.rootPem,
      cert: device.certChainPem,
      key: device.keyPem,
    });
    assert.equal(res.status, 401);
  });

  it("a new user changes the one-time password through the CLI sign-in helper", async () => {
    const created = await runCli(CLI, ["user", "create", "cli-user", "--role", "auditor"], env);
    assert.equal(created.code, 0, created.stderr);
    const password = /one-time password \(shown once\): (\S+)/.exec(created.stdout)![1]!;
    const session = {
      BULWARK_URL: server.httpUrl,
      BULWARK_CA_FILE: server.rootPemPath,
      BULWARK_USERNAME: "cli-user",
    };
    const changed = await runCli(CLI, ["password", "change"], {
      ...session,
      BULWARK_PASSWORD: password,
      BULWARK_NEW_PASSWORD: "a long new cli passphrase",
    });
    assert.equal(changed.code, 0, changed.stderr);
    const key = await runCli(CLI, ["api-key", "create", "--name", "ci", "--permissions", "devices:read"], {
      ...session,
      BULWARK_PASSWORD: "a long new cli passphrase",
    });
    assert.equal(key.code, 0, key.stderr);
    assert.match(key.stdout, /^bwk_/);
    const escalate = await runCli(
      CLI,
      ["api-key", "create", "--name", "x", "--permissions", "users:manage"],
      {
        ...session,
        BULWARK_PASSWORD: "a long new cli passphrase",
      },
    );
    assert.equal(escalate.code, 1);
    assert.match(escalate.stderr, /BW_ERR_FORBIDDEN/);
  });

  it("bulwark audit verify passes online and offline, and finds edited, deleted, inserted and reordered lines", async () => {
    assert.equal((await server.api("POST", "/api/v1/audit/checkpoints")).status, 201);
    const online = await runCli(CLI, ["audit", "verify"], env);
    assert.equal(online.code, 0, online.stderr + online.stdout);
    assert.match(online.stdout, /^ok: entries 1\.\./);
    const file = join(dir, "audit.jsonl");
    const keyFile = join(dir, "checkpoint.pem");
    assert.equal((await runCli(CLI, ["audit", "export", "--out", file], env)).code, 0);
    writeFileSync(keyFile, (await runCli(CLI, ["audit", "key"], env)).stdout);
    const offline = (lines: string[]) => {
      const path = join(dir, `t-${Math.random().toString(36).slice(2)}.jsonl`);
      writeFileSync(path, lines.join("\n"));
      return runCli(CLI, ["audit", "verify", "--file", path, "--public-key", keyFile], {});
    };
    const lines = readFileSync(file, "utf8").trim().split("\n");
    assert.equal((await offline(lines)).code, 0);
    const entryAt = (i: number) => lines.findIndex((l, n) => n >= i && l.includes('"type":"entry"'));
    const edited = [...lines];
    edited[entryAt(3)] = edited[entryAt(3)]!.replace('"outcome":"success"', '"outcome":"failure"');
    const deleted = lines.filter((_, n) => n !== entryAt(4));
    const inserted = [...lines.slice(0, 5), lines[entryAt(2)]!, ...lines.slice(5)];
    const reordered = [...lines];
    [reordered[entryAt(2)], reordered[entryAt(3)]] = [reordered[entryAt(3)]!, reordered[entryAt(2)]!];
    // The last entry cut off: the export's signed head checkpoint names an entry that is missing.
    const lastEntry = lines.findLastIndex((l) => l.includes('"type":"entry"'));
    const truncated = lines.filter((_, n) => n !== lastEntry);
    for (const [name, variant] of Object.entries({ edited, deleted, inserted, reordered, truncated })) {
      const result = await offline(variant);
      assert.equal(result.code, 1, `${name} was not detected: ${result.stdout}`);
      assert.match(result.stdout, /^FAILED at entry \d+/, name);
      if (name === "truncated") assert.match(result.stdout, /truncated/);
    }
  });

  it("the server's verify endpoint reports a tampered database and raises a notification", async () => {
    assert.equal((await server.api<{ ok: boolean }>("GET", "/api/v1/audit/verify")).body.ok, true);
    await server.store.run(`UPDATE audit_log SET action = 'forged' WHERE seq = 2`);
    const broken = await server.api<{ ok: boolean; problem: { seq: number; problem: string } }>(
      "GET",
      "/api/v1/audit/verify",
    );
    assert.equal(broken.body.ok, false);
    assert.deepEqual(broken.body.problem, { seq: 2, problem: "hash-mismatch" });
    const notes = await server.api<{ items: { kind: string }[] }>("GET", "/api/v1/notifications");
    assert.ok(notes.body.items.some((n) => n.kind === "audit-chain-broken"));
    assert.equal((await runCli(CLI, ["audit", "verify"], env)).code, 1);
  });
});
