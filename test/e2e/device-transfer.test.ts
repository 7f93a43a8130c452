import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { deviceKeyPem, openAgentStore } from "../../packages/agent/src/device-store.ts";
import { readState, statePaths } from "../../packages/agent/src/state.ts";
import { handleTransfer, type TransferContext } from "../../packages/agent/src/transfer.ts";
import { pinnedRoot } from "../../packages/agent/src/trust.ts";
import { deviceTopics } from "../../packages/sdk/src/wire/topics.ts";
import type { TransferCommand, TransferStatus } from "../../packages/sdk/src/wire/transfer.ts";
import type { EnrolledDevice } from "../enrol-helpers.ts";
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
import { connectDevice } from "../mqtt-helpers.ts";

interface TransferView {
  id: string;
  state: string;
  records: number | null;
  reason: string | null;
  waitingFor: { deviceId: string; role: string; command: string } | null;
  deadline: string | null;
}

/** The server's "sent again on subscribe" log lines, as [command, device]. */
const resends = (lines: string[]) =>
  lines
    .map((line) => JSON.parse(line) as { msg: string; command?: string; deviceId?: string })
    .filter((l) => l.msg === "transfer command sent again on subscribe")
    .map((l) => [l.command, l.deviceId]);

/** Both agents' transfer handlers, run in this process on their state directories, for one transfer. */
function agentSides(sourceDir: string, targetDir: string, transferId: string) {
  const ctx = (dir: string): TransferContext => {
    const state = readState(dir);
    return {
      store: openAgentStore(dir),
      stateDir: dir,
      deviceId: state.deviceId,
      root: pinnedRoot(dir, state),
    };
  };
  const step = (c: TransferContext, command: { type: TransferCommand["type"]; [field: string]: unknown }) =>
    handleTransfer(
      { ...command, deviceId: c.deviceId, transferId, issuedAt: Date.now() } as TransferCommand,
      c,
    );
  return { source: ctx(sourceDir), target: ctx(targetDir), step };
}

describe("device transfer: OLD's data sealed to NEW's one-time X-Wing key, signed by OLD, driven from the server", () => {
  let server: TestServer;
  const agents: ReturnType<typeof spawnAgent>[] = [];
  let old: { stateDir: string; deviceId: string };
  let replacement: { stateDir: string; deviceId: string };
  let env: Record<string, string>;
  const lines: string[] = [];

  const online = (deviceId: string, want = true) =>
    waitFor(`${deviceId} ${want ? "online" : "offline"}`, async () => {
      const res = await server.api<{ online: boolean }>("GET", `/api/v1/devices/${deviceId}`);
      return res.body.online === want;
    });
  const transferIn = (id: string, state: string) =>
    waitFor(`transfer ${id} ${state}`, async () => {
      const res = await server.api<TransferView>("GET", `/api/v1/transfers/${id}`);
      return res.body.state === state && res.body;
    });

  before(async () => {
    server = await startTestServer({ logLines: lines });
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

  it("each command sent while its device is away goes again when it reconnects, and the transfer completes", async () => {
    // Both agents down: transfer-prepare goes to nobody (MQTT keeps nothing for a clean session).
    const started = await server.api<TransferView>("POST", `/api/v1/devices/${old.deviceId}/transfer`, {
      to: replacement.deviceId,
    });
    assert.equal(started.status, 202);
    const id = started.body.id;
    assert.equal(started.body.state, "requested");
    assert.deepEqual(started.body.waitingFor, {
      deviceId: replacement.deviceId,
      role: "target",
      command: "transfer-prepare",
    });
    assert.ok(started.body.deadline, "an open transfer has a deadline");

    // NEW connects: the prepare goes again, its key arrives, and transfer-export goes to OLD, which is away.
    const newFirst = spawnAgent(replacement.stateDir);
    agents.push(newFirst);
    const keyed = await transferIn(id, "key-received");
    assert.deepEqual(keyed.waitingFor, {
      deviceId: old.deviceId,
      role: "source",
      command: "transfer-export",
    });
    await stopChild(newFirst);
    await online(replacement.deviceId, false);

    // A late refusal from NEW (a repeated command answered after the transfer moved past it) changes
    // nothing: the transfer waits on OLD now. Sent as NEW itself, over its own certificate.
    const paths = statePaths(replacement.stateDir);
    const late = await connectDevice(server, {
      deviceId: replacement.deviceId,
      keyPem: deviceKeyPem(openAgentStore(replacement.stateDir)),
      certChainPem: readFileSync(paths.cert, "utf8") + readFileSync(paths.chain, "utf8"),
    } as EnrolledDevice);
    await late.publishAsync(
      deviceTopics(replacement.deviceId).jobStatus(id),
      JSON.stringify({
        state: "transfer-failed",
        transferId: id,
        reason: "this transfer was already imported",
      }),
      { qos: 1 },
    );
    await waitFor("the late refusal handled", async () =>
      lines.some(
        (l) => l.includes("out-of-order transfer report dropped") && l.includes('"report":"transfer-failed"'),
      ),
    );
    await late.endAsync();
    await online(replacement.deviceId, false);

    // OLD connects: the export goes again; transfer-import goes to NEW, which is away now.
    const oldAgent = spawnAgent(old.stateDir);
    agents.push(oldAgent);
    const exported = await transferIn(id, "exported");
    assert.deepEqual(exported.waitingFor, {
      deviceId: replacement.deviceId,
      role: "target",
      command: "transfer-import",
    });

    // NEW reconnects: the import goes again and the transfer completes.
    agents.push(spawnAgent(replacement.stateDir));
    const done = await transferIn(id, "imported");
    assert.equal(done.records, 2);
    assert.equal(done.waitingFor, null);
    assert.equal(done.deadline, null);
    const store = openAgentStore(replacement.stateDir);
    assert.deepEqual(store.getJson("state", "app-settings"), { mode: "night", threshold: 7 });
    assert.deepEqual(store.get("state", "calibration"), Buffer.from([1, 2, 3, 4]));
    // Each of the three commands reached its device by the re-send on its subscribe.
    const sent = resends(lines);
    for (const expected of [
      ["transfer-prepare", replacement.deviceId],
      ["transfer-export", old.deviceId],
      ["transfer-import", replacement.deviceId],
    ])
      assert.ok(
        sent.some((s) => s[0] === expected[0] && s[1] === expected[1]),
        `${expected[0]} sent again: ${JSON.stringify(sent)}`,
      );
    const audit = await server.store.all<{ action: string }>(
      `SELECT action FROM audit_log WHERE action LIKE 'device.transfer.%' AND details LIKE ? ORDER BY seq`,
      [`%${id}%`],
    );
    assert.deepEqual(
      audit.map((a) => a.action),
      ["device.transfer.requested", "device.transfer.completed"],
    );
  });

  it("bulwark device transfer moves the state records; NEW holds them, the server only relayed", async () => {
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
    const transferId = /transfer ([0-9a-f-]{36}) started/.exec(moved.stderr)?.[1];
    const audit = await server.store.all<{ action: string }>(
      `SELECT action FROM audit_log WHERE action LIKE 'device.transfer.%' AND details LIKE ? ORDER BY seq`,
      [`%${transferId}%`],
    );
    assert.deepEqual(
      audit.map((a) => a.action),
      ["device.transfer.requested", "device.transfer.completed"],
    );
    const view = await server.api<TransferView>("GET", `/api/v1/transfers/${transferId}`);
    assert.equal(view.body.state, "imported");
    assert.equal(view.body.records, 2);
  });

  it("NEW refuses an envelope changed on the way, and a source that is not the device named", () => {
    const transferId = "0f0e0d0c-0000-4000-8000-000000000001";
    const { source, target, step } = agentSides(old.stateDir, replacement.stateDir, transferId);
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

  it("a repeated command is answered with the same step, nothing irreversible done twice", () => {
    const transferId = "0f0e0d0c-0000-4000-8000-000000000002";
    const { source, target, step } = agentSides(old.stateDir, replacement.stateDir, transferId);
    const prepare = { type: "transfer-prepare" as const, sourceId: source.deviceId };
    const key = step(target, prepare) as Extract<TransferStatus, { state: "transfer-key" }>;
    assert.deepEqual(step(target, prepare), key, "prepare again: the same one-time key, not a new one");
    const exported = step(source, {
      type: "transfer-export",
      recipientId: target.deviceId,
      recipientKey: key.publicKey,
    }) as Extract<TransferStatus, { state: "transfer-exported" }>;
    const importCommand = {
      type: "transfer-import" as const,
      sourceId: source.deviceId,
      envelope: exported.envelope,
      signature: exported.signature,
      algorithm: exported.algorithm,
      sourceChain: exported.chain,
    };
    target.store.putJson("state", "app-settings", { mode: "day", threshold: 1 });
    const first = step(target, importCommand);
    assert.equal(first.state, "transfer-imported");
    // Positive control: the first import wrote the source's record over the one changed above.
    assert.deepEqual(target.store.getJson("state", "app-settings"), { mode: "night", threshold: 7 });
    target.store.putJson("state", "app-settings", { mode: "changed after the import", threshold: 9 });
    assert.deepEqual(step(target, importCommand), first, "import again: the same answer");
    assert.deepEqual(
      target.store.getJson("state", "app-settings"),
      { mode: "changed after the import", threshold: 9 },
      "import again: nothing taken in twice",
    );
    assert.deepEqual(step(target, prepare), {
      state: "transfer-failed",
      transferId,
      reason: "this transfer was already imported",
    });
    assert.ok(
      !target.store.list("keys").includes(`transfer-${transferId}`),
      "no new key made for a finished transfer",
    );
  });
});

describe("device transfer deadline: a device that never answers fails the transfer, audited, with its reason", () => {
  let server: TestServer;
  const agents: ReturnType<typeof spawnAgent>[] = [];
  let env: Record<string, string>;
  let old: { stateDir: string; deviceId: string };
  let replacement: { stateDir: string; deviceId: string };

  before(async () => {
    server = await startTestServer({ args: ["--transfer-deadline-seconds", "3"] });
    env = {
      BULWARK_URL: server.httpUrl,
      BULWARK_API_KEY: server.adminKey,
      BULWARK_CA_FILE: server.rootPemPath,
    };
    old = await enrolAgent(server, await createToken(server));
    replacement = await enrolAgent(server, await createToken(server));
  });
  after(async () => {
    for (const agent of agents) await stopChild(agent);
    await server.close();
  });

  it("fails at the deadline while NEW stays away; the same deadline lets a transfer whose devices answer complete", async () => {
    agents.push(spawnAgent(old.stateDir));
    const started = await runCli(
      CLI,
      ["device", "transfer", old.deviceId, replacement.deviceId, "--wait", "0"],
      env,
    );
    assert.equal(started.code, 1, started.stderr);
    assert.match(
      started.stderr,
      new RegExp(
        `requested; waiting for the target ${replacement.deviceId} to answer transfer-prepare .*; fails at \\d{4}-`,
      ),
    );
    const id = /transfer ([0-9a-f-]{36}) started/.exec(started.stderr)?.[1];
    assert.ok(id);
    const failed = await waitFor("transfer failed at its deadline", async () => {
      const res = await server.api<TransferView>("GET", `/api/v1/transfers/${id}`);
      return res.body.state === "failed" && res.body;
    });
    assert.equal(failed.reason, "deadline: the target device did not answer transfer-prepare within 3 s");
    assert.equal(failed.waitingFor, null);
    const status = await runCli(CLI, ["device", "transfer", "--status", id], env);
    assert.equal(status.code, 1);
    assert.equal(
      status.stdout,
      `${id}: failed: deadline: the target device did not answer transfer-prepare within 3 s\n`,
    );
    const audit = await server.store.all<{
      action: string;
      actor_type: string;
      outcome: string;
      details: string;
    }>(
      `SELECT action, actor_type, outcome, details FROM audit_log
        WHERE action LIKE 'device.transfer.%' AND details LIKE ? ORDER BY seq`,
      [`%${id}%`],
    );
    assert.deepEqual(
      audit.map((a) => [a.action, a.actor_type, a.outcome]),
      [
        ["device.transfer.requested", "api-key", "success"],
        ["device.transfer.failed", "system", "failure"],
      ],
    );
    assert.match(audit[1]!.details, /deadline: the target device did not answer transfer-prepare/);

    // NEW comes back late: the failed transfer is not sent again (nothing waits on it) and stays
    // failed; a new transfer under the same deadline, both devices answering, completes.
    agents.push(spawnAgent(replacement.stateDir));
    const moved = await runCli(CLI, ["device", "transfer", old.deviceId, replacement.deviceId], env);
    assert.equal(moved.code, 0, moved.stderr);
    assert.match(moved.stdout, /imported \(0 record\(s\) moved to /);
    const again = await server.api<TransferView>("GET", `/api/v1/transfers/${id}`);
    assert.equal(again.body.state, "failed");
    assert.ok(
      !openAgentStore(replacement.stateDir).list("keys").includes(`transfer-${id}`),
      "the late device was never asked to prepare the failed transfer",
    );
  });
  it("a transfer that fails before its import: NEW erases its one-time key at the end signed into prepare", async () => {
    // OLD is away from here on: NEW answers prepare (and keeps a key), the export is never answered.
    await stopChild(agents[0]!);
    await waitFor("OLD offline", async () => {
      const res = await server.api<{ online: boolean }>("GET", `/api/v1/devices/${old.deviceId}`);
      return !res.body.online;
    });
    const started = await server.api<TransferView>("POST", `/api/v1/devices/${old.deviceId}/transfer`, {
      to: replacement.deviceId,
    });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    const id = started.body.id;
    const keys = () => openAgentStore(replacement.stateDir).list("keys");
    await waitFor("NEW prepared its key", async () => keys().includes(`transfer-${id}`));
    // Positive control: the key and its expiry are there while the transfer waits on OLD's export.
    assert.ok(keys().includes(`transfer-expires-${id}`));
    const failed = await waitFor("transfer failed at its deadline", async () => {
      const res = await server.api<TransferView>("GET", `/api/v1/transfers/${id}`);
      return res.body.state === "failed" && res.body;
    });
    assert.equal(failed.reason, "deadline: the source device did not answer transfer-export within 3 s");
    // Four deadlines (12 s) after the start, on NEW's own timer: no restart, no command needed.
    await waitFor(
      "NEW erased the key of the failed transfer",
      async () => !keys().includes(`transfer-${id}`) && !keys().includes(`transfer-expires-${id}`),
      40_000,
    );
  });
});
