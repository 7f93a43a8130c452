import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { openAgentStore } from "../../packages/agent/src/device-store.ts";
import { readState } from "../../packages/agent/src/state.ts";
import { handleTransfer, type TransferContext } from "../../packages/agent/src/transfer.ts";
import { pinnedRoot } from "../../packages/agent/src/trust.ts";
import type { TransferCommand, TransferStatus } from "../../packages/sdk/src/wire/transfer.ts";
import {
  CLI,
  createToken,
  enrolAgent,
  runCli,
  spawnAgent,
  startTestServer,
  stopChild,
  type TestServer,
  waitFor,
} from "../helpers.ts";

interface TransferView {
  id: string;
  state: string;
  records: number | null;
  reason: string | null;
}

describe("device transfer: OLD's data sealed to NEW's one-time X-Wing key, signed by OLD, driven from the server", () => {
  let server: TestServer;
  const agents: ReturnType<typeof spawnAgent>[] = [];
  let old: { stateDir: string; deviceId: string };
  let replacement: { stateDir: string; deviceId: string };
  let env: Record<string, string>;

  const online = (deviceId: string) =>
    waitFor(`${deviceId} online`, async () => {
      const res = await server.api<{ online: boolean }>("GET", `/api/v1/devices/${deviceId}`);
      return res.body.online;
    });

  before(async () => {
    server = await startTestServer();
    env = {
      BULWARK_URL: server.httpUrl,
      BULWARK_API_KEY: server.adminKey,
      BULWARK_CA_FILE: server.rootPemPath,
    };
    old = await enrolAgent(server, await createToken(server));
    replacement = await enrolAgent(server, await createToken(server));
    // What an application on the old device keeps in the agent's store.
    const store = openAgentStore(old.stateDir);
    store.putJson("state", "app-settings", { mode: "night", threshold: 7 });
    store.put("state", "calibration", Buffer.from([1, 2, 3, 4]));
  });
  after(async () => {
    for (const agent of agents) await stopChild(agent);
    await server.close();
  });

  it("refuses while a device is offline (the commands are not queued)", async () => {
    const res = await server.api<{ code: string; detail: string }>(
      "POST",
      `/api/v1/devices/${old.deviceId}/transfer`,
      { to: replacement.deviceId },
    );
    assert.equal(res.status, 409);
    assert.equal(res.body.code, "BW_ERR_CONFLICT");
    assert.match(res.body.detail, /offline: both devices must be connected/);
  });

  it("bulwark device transfer moves the state records; NEW holds them, the server only relayed", async () => {
    agents.push(spawnAgent(old.stateDir), spawnAgent(replacement.stateDir));
    await online(old.deviceId);
    await online(replacement.deviceId);
    const moved = await runCli(CLI, ["device", "transfer", old.deviceId, replacement.deviceId], env);
    assert.equal(moved.code, 0, moved.stderr);
    assert.match(moved.stdout, /imported \(2 record\(s\) moved to /);

    const store = openAgentStore(replacement.stateDir);
    assert.deepEqual(store.getJson("state", "app-settings"), { mode: "night", threshold: 7 });
    assert.deepEqual(store.get("state", "calibration"), Buffer.from([1, 2, 3, 4]));
    assert.deepEqual(
      store.list("keys"),
      ["device"],
      "the one-time transfer key is gone; the device key stayed its own",
    );
    const audit = await server.store.all<{ action: string; details: string }>(
      `SELECT action, details FROM audit_log WHERE action LIKE 'device.transfer.%' ORDER BY seq`,
    );
    assert.deepEqual(
      audit.map((a) => a.action),
      ["device.transfer.requested", "device.transfer.completed"],
    );
    const transferId = /transfer ([0-9a-f-]{36}) started/.exec(moved.stderr)?.[1];
    const view = await server.api<TransferView>("GET", `/api/v1/transfers/${transferId}`);
    assert.equal(view.body.state, "imported");
    assert.equal(view.body.records, 2);
  });

  it("NEW refuses an envelope changed on the way, and a source that is not the device named", () => {
    const ctx = (dir: string): TransferContext => {
      const state = readState(dir);
      return {
        store: openAgentStore(dir),
        stateDir: dir,
        deviceId: state.deviceId,
        root: pinnedRoot(dir, state),
      };
    };
    const [source, target] = [ctx(old.stateDir), ctx(replacement.stateDir)];
    const transferId = "0f0e0d0c-0000-4000-8000-000000000001";
    const step = (c: TransferContext, command: { type: TransferCommand["type"]; [field: string]: unknown }) =>
      handleTransfer(
        { ...command, deviceId: c.deviceId, transferId, issuedAt: Date.now() } as TransferCommand,
        c,
      );
    const key = step(target, { type: "transfer-prepare", sourceId: source.deviceId });
    assert.equal(key.state, "transfer-key");
    const exported = step(source, {
      type: "transfer-export",
      recipientId: target.deviceId,
      recipientKey: (key as Extract<TransferStatus, { state: "transfer-key" }>).publicKey,
    }) as Extract<TransferStatus, { state: "transfer-exported" }>;
    assert.equal(exported.state, "transfer-exported");
    const importing = (change: Partial<Record<string, unknown>>) =>
      step(target, {
        type: "transfer-import",
        sourceId: source.deviceId,
        envelope: exported.envelope,
        signature: exported.signature,
        algorithm: exported.algorithm,
        sourceChain: exported.chain,
        ...change,
      } as { type: TransferCommand["type"]; [field: string]: unknown });

    const envelope = Buffer.from(exported.envelope, "base64");
    envelope[envelope.length - 1]! ^= 1;
    assert.deepEqual(importing({ envelope: envelope.toString("base64") }), {
      state: "transfer-failed",
      transferId,
      reason: "the source's signature does not verify",
    });
    assert.equal(
      (importing({ sourceId: target.deviceId }) as { reason: string }).reason,
      "the source's certificate names another device",
    );
    // Positive control: the same envelope, unchanged, opens.
    assert.equal(importing({}).state, "transfer-imported");
  });
});
