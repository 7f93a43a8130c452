import assert from "node:assert/strict";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  AGENT,
  CLI,
  enrolAgent,
  runCli,
  spawnAgent,
  startTestServer,
  stopChild,
  type TestServer,
  tempDir,
  waitFor,
} from "../helpers.ts";

interface DeviceList {
  items: {
    id: string;
    online: boolean;
    status: string;
    metadata: Record<string, unknown>;
    groupName: string;
  }[];
  total: number;
}

describe("foundation: enrol with the real agent and see it online", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  it("bootstraps a root, issuing CAs, the default group and a 0600 admin key file", async () => {
    assert.match(server.rootFingerprint, /^[0-9a-f]{64}$/);
    assert.equal(server.firstRun?.adminUsername, "admin");
    assert.ok((server.firstRun?.adminPassword.length ?? 0) >= 20);
    assert.equal(statSync(join(server.dir, "admin.key")).mode & 0o777, 0o600);
    assert.equal(statSync(join(server.dir, "data", "master.key")).mode & 0o777, 0o600);
    const groups = await server.api<{ items: { name: string }[] }>("GET", "/api/v1/groups");
    assert.deepEqual(
      groups.body.items.map((g) => g.name),
      ["default"],
    );
    const health = await server.api<{ status: string }>("GET", "/healthz", undefined, { authorization: "" });
    assert.equal(health.status, 200);
    assert.equal(health.body.status, "ok");
  });

  it("CLI token → agent enroll → agent run → device listed online with minimal metadata", async () => {
    const env = {
      BULWARK_URL: server.httpUrl,
      BULWARK_API_KEY: server.adminKey,
      BULWARK_CA_FILE: server.rootPemPath,
    };
    const token = await runCli(CLI, ["token", "create", "--group", "default"], env);
    assert.equal(token.code, 0, token.stderr);
    assert.match(token.stdout.trim(), /^bwet_/);

    const { stateDir, deviceId } = await enrolAgent(server, token.stdout.trim());
    assert.equal(statSync(join(stateDir, "data.key")).mode & 0o777, 0o600, "the store's KEK");
    assert.equal(statSync(join(stateDir, "store", "keys", "device.rec")).mode & 0o777, 0o600);
    assert.equal(statSync(join(stateDir, "store")).mode & 0o777, 0o700);

    const agent = spawnAgent(stateDir, ["--model", "router-x1"]);
    try {
      const device = await waitFor("device online with metadata", async () => {
        const list = await server.api<DeviceList>("GET", "/api/v1/devices");
        const found = list.body.items.find((d) => d.id === deviceId);
        return found?.online && found.metadata.model ? found : undefined;
      });
      assert.equal(device.status, "active");
      assert.equal(device.groupName, "default");
      assert.equal(device.metadata.model, "router-x1");
      assert.equal(typeof device.metadata.agentVersion, "string");
      assert.deepEqual(device.metadata.listeningPorts, []);
      const listed = await runCli(CLI, ["device", "list"], env);
      assert.equal(listed.code, 0, listed.stderr);
      // A token enrolment knows no hardware serial: "-" until an operator sets one.
      assert.match(listed.stdout, new RegExp(`${deviceId}\\s+-\\s+default\\s+active\\s+online\\s+router-x1`));
    } finally {
      assert.equal(await stopChild(agent), 0);
    }
    await waitFor("device offline after the agent stops", async () => {
      const res = await server.api<{ online: boolean }>("GET", `/api/v1/devices/${deviceId}`);
      return res.body.online === false;
    });
  });

  it("the agent refuses a server whose root does not match the pinned fingerprint", async () => {
    const token = (
      await server.api<{ token: string }>("POST", "/api/v1/enrolment-tokens", { group: "default" })
    ).body.token;
    const stateDir = join(tempDir("bulwark-agent-"), "state");
    const result = await runCli(AGENT, [
      "enroll",
      "--server",
      server.httpUrl,
      "--token",
      token,
      "--ca-fingerprint",
      "00".repeat(32),
      "--state-dir",
      stateDir,
    ]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /pinned fingerprint/);
    assert.equal(result.stderr.trim().split("\n").length, 1);
    assert.equal(existsSync(stateDir), false, "a failed enrolment leaves no state directory");
  });

  it("CLI errors are one readable line with an exit code", async () => {
    const noKey = await runCli(CLI, ["device", "list"], {
      BULWARK_URL: server.httpUrl,
      BULWARK_CA_FILE: server.rootPemPath,
      BULWARK_API_KEY: "",
    });
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /^bulwark device list: set BULWARK_API_KEY/);
    const badKey = await runCli(CLI, ["device", "list"], {
      BULWARK_URL: server.httpUrl,
      BULWARK_CA_FILE: server.rootPemPath,
      BULWARK_API_KEY: "bwk_aaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
    });
    assert.equal(badKey.code, 1);
    assert.match(badKey.stderr, /BW_ERR_UNAUTHENTICATED/);
    const unknownGroup = await runCli(CLI, ["token", "create", "--group", "nope"], {
      BULWARK_URL: server.httpUrl,
      BULWARK_CA_FILE: server.rootPemPath,
      BULWARK_API_KEY: server.adminKey,
    });
    assert.equal(unknownGroup.code, 1);
    assert.match(unknownGroup.stderr, /BW_ERR_GROUP_NOT_FOUND/);
  });
});
