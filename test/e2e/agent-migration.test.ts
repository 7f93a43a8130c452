import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { loadDeviceKey, openAgentStore, storePaths } from "../../packages/agent/src/device-store.ts";
import { sealJson, sealPrivateKeyPem } from "../../packages/agent/src/vault.ts";
import {
  createToken,
  enrolAgent,
  spawnAgent,
  startTestServer,
  stopChild,
  type TestServer,
  waitFor,
} from "../helpers.ts";

interface EventPage {
  items: { kind: string; detail: string | null }[];
}

/**
 * Lays a freshly enrolled state directory out as agent 0.1.0 kept it (the layout of
 * packages/agent/fixtures/state-v0.1.0, which the migration's unit test reads): a hex data key,
 * the device key as encrypted PKCS#8, spooled events sealed under the data key.
 */
function toLegacyLayout(stateDir: string, events: string[]): void {
  const key = loadDeviceKey(openAgentStore(stateDir));
  rmSync(storePaths(stateDir).store, { recursive: true });
  const dataKey = randomBytes(32);
  writeFileSync(storePaths(stateDir).kek, dataKey.toString("hex"), { mode: 0o600 });
  writeFileSync(join(stateDir, "device.key.pem"), sealPrivateKeyPem(key, dataKey), { mode: 0o600 });
  mkdirSync(join(stateDir, "spool"), { mode: 0o700 });
  events.forEach((detail, i) => {
    const event = { type: "security-event", kind: "login-failed", at: new Date().toISOString(), detail };
    writeFileSync(
      join(stateDir, "spool", `${Date.now() + i}-${randomUUID()}.event`),
      sealJson(event, dataKey, "bulwark-agent/event").toString("base64"),
      { mode: 0o600 },
    );
  });
}

describe("agent: a 0.1.0 state directory is migrated on first start and connects", () => {
  let server: TestServer;
  let agent: ReturnType<typeof spawnAgent> | undefined;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    if (agent) await stopChild(agent);
    await server.close();
  });

  it("moves the key and the spool into the store, connects with the same identity, delivers the spooled events", async () => {
    const { stateDir, deviceId } = await enrolAgent(server, await createToken(server));
    toLegacyLayout(stateDir, ["spooled by 0.1.0 (1)", "spooled by 0.1.0 (2)"]);
    agent = spawnAgent(stateDir);
    await waitFor("both spooled events stored", async () => {
      const page = await server.api<EventPage>(
        "GET",
        `/api/v1/security-events?device=${deviceId}&kind=login-failed`,
      );
      return page.body.items.length === 2;
    });
    const page = await server.api<EventPage>(
      "GET",
      `/api/v1/security-events?device=${deviceId}&kind=login-failed`,
    );
    assert.deepEqual(page.body.items.map((e) => e.detail).sort(), [
      "spooled by 0.1.0 (1)",
      "spooled by 0.1.0 (2)",
    ]);
    assert.equal(existsSync(join(stateDir, "device.key.pem")), false);
    assert.equal(existsSync(join(stateDir, "spool")), false);
    assert.deepEqual(readdirSync(join(stateDir, "store", "keys")), ["device.rec"]);
  });
});
