import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DEFAULT_POLICY_SETTINGS } from "../../packages/sdk/src/wire/policy.ts";
import {
  createToken,
  enrolAgent,
  spawnAgent,
  startTestServer,
  stopChild,
  type TestServer,
  waitFor,
} from "../helpers.ts";
import { linkRelay } from "../link-relay.ts";

/**
 * What the agent tells the server besides job reports reaches it although the connection drops
 * before the PUBACK or the agent restarts (MQTT 3.1.1 §4.3.2), with a real server and real agent
 * processes: the agent's own security events (a configuration change, a refused command) through
 * its persisted event queue, transfer steps through its persisted outbox, the configuration answer
 * through the server's push on every connection, the wipe confirmation from memory.
 */

interface DeviceView {
  online: boolean;
  status: string;
  config: { policy: string; version: number } | null;
}
interface EventPage {
  items: { kind: string; detail: string | null }[];
  total: number;
}
interface TransferView {
  id: string;
  state: string;
  records: number | null;
}

describe("agent messages besides job reports survive a lost connection and a restart (MQTT 3.1.1 §4.3.2)", () => {
  let server: TestServer;
  let relay: Awaited<ReturnType<typeof linkRelay>>;
  let policyVersion = 1;
  // A: the device behind the relay. B: another device, connected directly (the other end of transfers).
  const a = { stateDir: "", deviceId: "", log: [] as string[], agent: undefined as ChildProcess | undefined };
  const b = { stateDir: "", deviceId: "", log: [] as string[], agent: undefined as ChildProcess | undefined };

  const device = async (id: string) => (await server.api<DeviceView>("GET", `/api/v1/devices/${id}`)).body;
  const events = async (id: string, kind: string) =>
    (await server.api<EventPage>("GET", `/api/v1/security-events?device=${id}&kind=${kind}&limit=100`)).body
      .items;
  const withDetail = async (id: string, kind: string, detail: (d: string) => boolean) =>
    (await events(id, kind)).filter((e) => e.detail !== null && detail(e.detail)).length;
  const transfer = async (id: string) =>
    (await server.api<TransferView>("GET", `/api/v1/transfers/${id}`)).body;
  const completions = async (transferId: string) =>
    (
      await server.store.all<{ details: string }>(
        `SELECT details FROM audit_log WHERE action = 'device.transfer.completed'`,
      )
    ).filter((r) => (JSON.parse(r.details) as { transferId: string }).transferId === transferId).length;
  const publishPolicy = async () => {
    const res = await server.api<{ version: number }>("POST", "/api/v1/policies/baseline/versions", {
      settings: { ...DEFAULT_POLICY_SETTINGS, telemetryIntervalSeconds: 3600 + policyVersion },
    });
    assert.equal(res.status, 201);
    policyVersion = res.body.version;
    return policyVersion;
  };
  const startTransfer = async (from: string, to: string) => {
    const res = await server.api<TransferView>("POST", `/api/v1/devices/${from}/transfer`, { to });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.id;
  };
  /** The agent's log lines (JSON on stdout) whose message is `msg` and whose fields match. */
  const logged = (who: typeof a, msg: string, fields: Record<string, unknown> = {}) =>
    who.log.filter((line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      return entry.msg === msg && Object.entries(fields).every(([k, v]) => entry[k] === v);
    }).length;
  const start = (who: typeof a) => {
    const agent = spawnAgent(who.stateDir);
    let rest = "";
    agent.stdout!.on("data", (chunk: Buffer) => {
      const lines = (rest + chunk.toString("utf8")).split("\n");
      rest = lines.pop()!;
      who.log.push(...lines.filter((l) => l.startsWith("{")));
    });
    who.agent = agent;
    return agent;
  };
  // What A keeps until its PUBACK: queued security events, and outbox records (`updates.outbox.*`).
  const queued = () =>
    readdirSync(join(a.stateDir, "store", "queue")).filter((f) => f.endsWith(".rec")).length;
  const outboxed = () =>
    readdirSync(join(a.stateDir, "store", "state")).filter((f) => f.startsWith("updates.outbox.")).length;
  const online = (who: typeof a) =>
    waitFor(`${who.deviceId} online`, async () => (await device(who.deviceId)).online);
  /** A's messages since its last connection: each log line's message. */
  const sinceConnected = (who: typeof a) => {
    const msgs = who.log.map((line) => (JSON.parse(line) as { msg: string }).msg);
    return msgs.slice(msgs.lastIndexOf("connected"));
  };
  /** A is connected and quiet: it answered the configuration pushed on connect and sent what it kept. */
  const settled = async () => {
    await online(a);
    await waitFor(
      "A answered the configuration pushed on connect",
      async () => sinceConnected(a)[0] === "connected" && sinceConnected(a).includes("configuration applied"),
    );
    await waitFor("A has sent everything it kept", async () => queued() === 0 && outboxed() === 0);
  };

  before(async () => {
    server = await startTestServer();
    await server.api("POST", "/api/v1/groups", { name: "relayed" });
    assert.equal(
      (await server.api("POST", "/api/v1/policies/baseline/versions", { settings: DEFAULT_POLICY_SETTINGS }))
        .status,
      201,
    );
    assert.equal(
      (await server.api("PUT", "/api/v1/groups/relayed/policy", { policy: "baseline" })).status,
      200,
    );
    Object.assign(a, await enrolAgent(server, await createToken(server, "relayed")));
    Object.assign(b, await enrolAgent(server, await createToken(server)));
    // A reaches the broker through the relay only.
    relay = await linkRelay(server.mqttPort);
    const statePath = join(a.stateDir, "agent.json");
    const state = JSON.parse(readFileSync(statePath, "utf8")) as { mqttUrl: string };
    const url = new URL(state.mqttUrl);
    url.port = String(relay.port);
    writeFileSync(statePath, JSON.stringify({ ...state, mqttUrl: url.href }));
    start(a);
    start(b);
    await online(b);
    await waitFor("A applied the policy", async () => (await device(a.deviceId)).config?.version === 1);
    assert.ok(relay.connections() >= 1, "A is connected through the relay");
  });
  after(async () => {
    for (const who of [a, b]) if (who.agent) await stopChild(who.agent);
    await relay?.close();
    await server?.close();
  });

  it("made while nothing reached the server: the agent's own events, a transfer step and the configuration answer arrive once after the reconnect", async () => {
    await settled();
    relay.set("mute");
    const version = await publishPolicy();
    await server.broker.publish(a.deviceId, "cmd", {
      v: 1,
      payload: "AAAA",
      sig: "AAAA",
      alg: "ecdsa-p256",
      chain: [],
    });
    const transferId = await startTransfer(b.deviceId, a.deviceId);
    await waitFor(
      "A applied, refused and answered",
      async () =>
        logged(a, "configuration applied", { version }) === 1 &&
        logged(a, "command rejected") >= 1 &&
        logged(a, "transfer step", { transferId }) === 1,
    );
    const changed = (d: string) => d === `policy baseline v${version}`;
    const refused = (d: string) => d.startsWith("command refused");
    // Positive control: none of it reached the server, and A still holds what it must send again.
    assert.equal(await withDetail(a.deviceId, "config-changed", changed), 0);
    assert.equal(await withDetail(a.deviceId, "integrity-failure", refused), 0);
    assert.equal((await transfer(transferId)).state, "requested");
    assert.equal((await device(a.deviceId)).config?.version, version - 1);
    assert.ok(queued() >= 2, `config-changed and the refusal are queued (${queued()})`);
    assert.equal(outboxed(), 1, "the transfer step is in the outbox");

    const before = relay.connections();
    relay.cut();
    await waitFor(
      "the transfer completed",
      async () => (await transfer(transferId)).state === "imported",
      60_000,
    );
    await waitFor(
      "config v2 acknowledged",
      async () => (await device(a.deviceId)).config?.version === version,
    );
    await settled();
    assert.ok(relay.connections() > before, "A reconnected");
    assert.equal(await withDetail(a.deviceId, "config-changed", changed), 1);
    assert.equal(await withDetail(a.deviceId, "integrity-failure", refused), 1);
    assert.equal(await completions(transferId), 1);
  });

  it("stored before the PUBACK was lost: the event and the transfer step come again and are stored once", async () => {
    // A transfer from A: A's export goes out, the server completes the transfer, A never hears the PUBACK.
    await settled();
    relay.set("deaf");
    const transferId = await startTransfer(a.deviceId, b.deviceId);
    await waitFor(
      "the transfer completed",
      async () => (await transfer(transferId)).state === "imported",
      60_000,
    );
    // Positive control: the server has the step, and A keeps it (its PUBACK never came).
    assert.equal(outboxed(), 1);
    let connections = relay.connections();
    relay.cut();
    await waitFor(
      "A sent the step again, and had it acknowledged",
      async () => relay.connections() > connections && (await device(a.deviceId)).online && outboxed() === 0,
      60_000,
    );
    assert.equal(await completions(transferId), 1, "the repeat completed nothing twice");
    assert.equal(logged(b, "transfer step", { transferId, step: "transfer-import" }), 1, "B imported once");

    // A configuration change: the event reaches the server, its PUBACK does not reach A.
    await settled();
    relay.set("deaf");
    const version = await publishPolicy();
    const changed = (d: string) => d === `policy baseline v${version}`;
    await waitFor(
      "the event stored",
      async () => (await withDetail(a.deviceId, "config-changed", changed)) === 1,
    );
    assert.ok(queued() >= 1, "A keeps the event: its PUBACK never came");
    connections = relay.connections();
    relay.cut();
    await waitFor(
      "A sent it again, and had it acknowledged",
      async () => relay.connections() > connections && (await device(a.deviceId)).online && queued() === 0,
      60_000,
    );
    assert.equal(
      await withDetail(a.deviceId, "config-changed", changed),
      1,
      "stored once (its id, migration 960)",
    );
  });

  it("made before a restart: the event and the transfer step are sent by the restarted agent, once", async () => {
    await settled();
    relay.set("mute");
    const version = await publishPolicy();
    const transferId = await startTransfer(b.deviceId, a.deviceId);
    await waitFor(
      "A applied and answered",
      async () =>
        logged(a, "configuration applied", { version }) === 1 &&
        logged(a, "transfer step", { transferId }) === 1,
    );
    await stopChild(a.agent!);
    relay.cut();
    const changed = (d: string) => d === `policy baseline v${version}`;
    // Positive control: nothing reached the server; the stopped agent's store holds both.
    assert.equal(await withDetail(a.deviceId, "config-changed", changed), 0);
    assert.equal((await transfer(transferId)).state, "requested");
    assert.ok(queued() >= 1);
    assert.equal(outboxed(), 1);

    start(a);
    await waitFor(
      "the transfer completed",
      async () => (await transfer(transferId)).state === "imported",
      60_000,
    );
    await settled();
    assert.equal(await withDetail(a.deviceId, "config-changed", changed), 1);
    assert.equal(await completions(transferId), 1);
  });

  it("wiped while the confirmation is lost: the agent sends it again on the next connection, then ends", async () => {
    await settled();
    relay.set("mute");
    const res = await server.api("POST", `/api/v1/devices/${a.deviceId}/decommission`, {
      reason: "end of life",
    });
    assert.equal(res.status, 200);
    await waitFor(
      "A erased itself",
      async () => logged(a, "wipe requested: crypto-erasing local data") === 1,
    );
    // Positive control: the confirmation did not arrive, the device is still there, waiting for it.
    assert.equal((await device(a.deviceId)).status, "decommissioned");
    assert.equal(a.agent!.exitCode, null, "the agent waits for the acknowledgement");

    relay.cut();
    const exit = await new Promise<number | null>((resolve) =>
      a.agent!.exitCode !== null ? resolve(a.agent!.exitCode) : a.agent!.once("exit", resolve),
    );
    assert.equal(exit, 0);
    assert.ok(logged(a, "wiped") >= 1);
    assert.equal(
      logged(a, "wipe confirmation not acknowledged over MQTT in time; delivering the signed receipt"),
      0,
      "ended on the acknowledgement, not on the bound",
    );
    assert.deepEqual(readdirSync(a.stateDir), [], "nothing is left in the state directory");
    assert.equal((await server.api("GET", `/api/v1/devices/${a.deviceId}`)).status, 404);
    const wiped = await server.store.all<{ action: string }>(
      `SELECT action FROM audit_log WHERE target_id = ? AND action = 'device.wiped'`,
      [a.deviceId],
    );
    assert.equal(wiped.length, 1);
  });
});
