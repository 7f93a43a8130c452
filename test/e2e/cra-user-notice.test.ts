import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { insertDevice, newDeviceId, recordMetadata } from "../../packages/server/src/fleet/devices.ts";
import { cyclonedx, osvDir, osvRecord } from "../../packages/server/test/store-fixtures.ts";
import {
  CLI,
  createToken,
  enrolAgent,
  runCli,
  spawnAgent,
  startTestServer,
  stopChild,
  type TestServer,
  tempDir,
  waitFor,
} from "../helpers.ts";

/**
 * CRA Art. 14(8) end to end with real agents: the notice goes in-band to every device of the
 * product running an affected version, the agent runs its notification hook and acknowledges it, a
 * device that was offline gets it when it reconnects, and each acknowledgement is recorded.
 */
const KEV = new URL("../data/kev/known_exploited_vulnerabilities.json.gz", import.meta.url).pathname;

interface Delivery {
  deviceId: string;
  version: string | null;
  state: string;
  attempts: number;
  hook: string | null;
}
interface NoticeView {
  id: string;
  severity: string;
  action: string;
  text: string;
  advisoryUrls: string[];
  versions: string[];
  deliveries: { pending: number; sent: number; acknowledged: number };
  devices: Delivery[];
}

describe("CRA Art. 14(8): the notice to users reaches the devices in-band", () => {
  const dir = tempDir("bulwark-cra-notice-");
  let server: TestServer;
  let product: string;
  let eventId: string;
  let noticeId: string;
  const agents = new Map<string, ChildProcess>();
  const devices: Record<"online" | "offline", { deviceId: string; stateDir: string; hookLog: string }> = {
    online: { deviceId: "", stateDir: "", hookLog: "" },
    offline: { deviceId: "", stateDir: "", hookLog: "" },
  };
  let unaffected = "";
  const env = () => ({
    BULWARK_URL: server.httpUrl,
    BULWARK_API_KEY: server.adminKey,
    BULWARK_CA_FILE: server.rootPemPath,
  });
  const device = async (id: string) =>
    (
      await server.api<{ online: boolean; metadata: { firmwareVersion?: string } }>(
        "GET",
        `/api/v1/devices/${id}`,
      )
    ).body;
  const notice = async () =>
    (await server.api<NoticeView>("GET", `/api/v1/cra/reports/${eventId}/user-notices/${noticeId}`)).body;
  const delivery = async (id: string) => (await notice()).devices.find((d) => d.deviceId === id);
  const integrityFailures = async (id: string) =>
    (
      await server.api<{ total: number }>(
        "GET",
        `/api/v1/security-events?device=${id}&kind=integrity-failure`,
      )
    ).body.total;
  const start = (which: "online" | "offline") => {
    const agent = spawnAgent(devices[which].stateDir);
    agents.set(which, agent);
    return agent;
  };

  before(async () => {
    server = await startTestServer({ dir });
    product = (await server.api<{ id: string }>("POST", "/api/v1/products", { name: "gateway" })).body.id;
    const release = await server.api<{ id: string }>("POST", `/api/v1/products/${product}/releases`, {
      version: "2.0.0",
    });
    const system = { type: "system" } as const;
    await server.software.monitor.importAdvisories(
      osvDir(dir, [
        osvRecord({ id: "GHSA-art8-4000-0001", aliases: ["CVE-2021-44228"], name: "log4js", fixed: "2.0.0" }),
      ]),
      system,
    );
    await server.software.monitor.attachSbom(release.body.id, cyclonedx(["log4js@1.0.0"]), system);
    await server.software.monitor.importKev(KEV, system);
    eventId = (
      await waitFor("the KEV candidate", async () => {
        const list = await server.api<{ items: { id: string }[] }>(
          "GET",
          `/api/v1/cra/reports?product=${product}`,
        );
        return list.body.items[0];
      })
    ).id;
    assert.equal((await server.api("POST", "/api/v1/groups", { name: "gateways" })).status, 201);
    assert.equal((await server.api("PUT", `/api/v1/products/${product}/groups/gateways`)).status, 200);
    for (const which of ["online", "offline"] as const) {
      const stateDir = tempDir(`bulwark-notice-${which}-`);
      const { deviceId } = await enrolAgent(server, await createToken(server, "gateways"), { stateDir });
      // The device's installed firmware, as the factory image records it for the updates module.
      mkdirSync(join(stateDir, "updates"), { recursive: true });
      writeFileSync(
        join(stateDir, "updates", "installed.json"),
        JSON.stringify({ components: { firmware: { version: "2.0.0", floor: null } } }),
      );
      const hookLog = join(stateDir, "notices.log");
      writeFileSync(
        join(stateDir, "updates.json"),
        JSON.stringify({
          notifyHook: [
            "/bin/sh",
            "-c",
            `printf '%s|%s|%s|%s|%s|%s\\n' "$BULWARK_UPDATE_EVENT" "$BULWARK_NOTICE_ID" "$BULWARK_NOTICE_SEVERITY" "$BULWARK_NOTICE_VULNERABILITY" "$BULWARK_NOTICE_ACTION" "$BULWARK_NOTICE_VERSION" >> ${hookLog}`,
          ],
        }),
      );
      devices[which] = { deviceId, stateDir, hookLog };
      start(which);
      await waitFor(`${which} device reports firmware 2.0.0`, async () => {
        const d = await device(deviceId);
        return d.online && d.metadata.firmwareVersion === "2.0.0";
      });
    }
    // One device is offline when the notice is sent.
    await stopChild(agents.get("offline")!);
    await waitFor("the device is offline", async () => !(await device(devices.offline.deviceId)).online);
    // A device on a fixed version gets no notice.
    const group = await server.store.get<{ id: string }>(
      `SELECT id FROM device_groups WHERE name = 'gateways'`,
    );
    unaffected = newDeviceId();
    await insertDevice(server.store, { id: unaffected, groupId: group!.id, enrolledVia: "token" });
    await recordMetadata(server.store, unaffected, { firmwareVersion: "2.1.0" }, 0);
  });
  after(async () => {
    for (const agent of agents.values()) await stopChild(agent);
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses a notice for a candidate event, then sends it with the CLI once the event is confirmed", async () => {
    const early = await server.api<{ code: string }>("POST", `/api/v1/cra/reports/${eventId}/user-notices`, {
      severity: "critical",
      action: "Install firmware 2.1.0",
    });
    assert.equal(early.status, 409);
    assert.equal(early.body.code, "BW_ERR_CONFLICT");
    await server.api("POST", `/api/v1/cra/reports/${eventId}/actions`, { type: "confirm" });
    const measured = await server.api("POST", `/api/v1/cra/reports/${eventId}/actions`, {
      type: "corrective-available",
      measure: "firmware 2.1.0 replaces log4js",
    });
    assert.equal(measured.status, 200);
    const bad = await runCli(CLI, ["cra", "report", "notify", eventId, "--severity", "urgent"], env());
    assert.equal(bad.code, 2);
    const sent = await runCli(CLI, ["cra", "report", "notify", eventId, "--severity", "critical"], env());
    assert.equal(sent.code, 0, sent.stderr);
    assert.match(sent.stdout, /for versions 2\.0\.0/);
    assert.match(sent.stdout, /2 devices run an affected version: sent to the 1 online now/);
    noticeId = /^notice ([0-9a-f-]{36})/.exec(sent.stdout)![1]!;
    const n = await notice();
    assert.equal(
      n.action,
      "firmware 2.1.0 replaces log4js",
      "the corrective measure is what users should do",
    );
    assert.deepEqual(
      n.devices.map((d) => d.deviceId).sort(),
      [devices.online.deviceId, devices.offline.deviceId].sort(),
      "only the devices on the affected version",
    );
    assert.ok(!n.devices.some((d) => d.deviceId === unaffected));
  });

  it("the connected agent runs its notification hook with the notice and acknowledges it", async () => {
    const acked = await waitFor("acknowledged by the connected device", async () => {
      const d = await delivery(devices.online.deviceId);
      return d?.state === "acknowledged" && d;
    });
    assert.equal(acked.hook, "ran");
    assert.equal(
      readFileSync(devices.online.hookLog, "utf8"),
      `security-notice|${noticeId}|critical|CVE-2021-44228|firmware 2.1.0 replaces log4js|2.0.0\n`,
    );
    assert.equal(
      (await delivery(devices.offline.deviceId))?.state,
      "pending",
      "offline: waits for its reconnect",
    );
    assert.equal(existsSync(devices.offline.hookLog), false);
    assert.equal(await integrityFailures(devices.online.deviceId), 0, "the notice is a known command");
    // Positive control: the refusal path still reports a command that does not verify.
    await server.broker.publish(devices.online.deviceId, "cmd", {
      v: 1,
      payload: Buffer.from(JSON.stringify({ type: "reboot", deviceId: devices.online.deviceId })).toString(
        "base64",
      ),
      sig: Buffer.alloc(70).toString("base64"),
      alg: "ecdsa-p256",
      chain: ["AAAA", "AAAA"],
    });
    await waitFor(
      "integrity failure recorded",
      async () => (await integrityFailures(devices.online.deviceId)) === 1,
    );
  });

  it("the device that was offline gets the notice when it reconnects, and its acknowledgement is recorded", async () => {
    start("offline");
    const acked = await waitFor("acknowledged after the reconnect", async () => {
      const d = await delivery(devices.offline.deviceId);
      return d?.state === "acknowledged" && d;
    });
    assert.equal(acked.hook, "ran");
    assert.match(
      readFileSync(devices.offline.hookLog, "utf8"),
      new RegExp(`^security-notice\\|${noticeId}\\|critical\\|`),
    );
    assert.deepEqual((await notice()).deliveries, { pending: 0, sent: 0, acknowledged: 2 });
    const audit = await server.store.all<{ action: string; actor_type: string; actor_id: string | null }>(
      `SELECT action, actor_type, actor_id FROM audit_log WHERE action IN ('cra.report.notify', 'cra.user-notice.acknowledged') ORDER BY seq`,
    );
    assert.deepEqual(
      audit.map((a) => [a.action, a.actor_type === "device" ? a.actor_id : a.actor_type]),
      [
        ["cra.report.notify", "api-key"],
        ["cra.user-notice.acknowledged", devices.online.deviceId],
        ["cra.user-notice.acknowledged", devices.offline.deviceId],
      ],
    );
    const shown = await runCli(CLI, ["cra", "report", "notices", eventId, noticeId], env());
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /2 acknowledged, 0 sent, 0 pending/);
    assert.match(shown.stdout, new RegExp(`${devices.offline.deviceId}\\s+2\\.0\\.0\\s+acknowledged`));
    const listed = await runCli(CLI, ["cra", "report", "notices", eventId], env());
    assert.match(listed.stdout, new RegExp(`${noticeId}\\s+critical`));
  });

  it("a notice the server sends again is acknowledged again without notifying the user twice", async () => {
    // As if the acknowledgement had been lost: the server holds it unacknowledged and re-sends on reconnect.
    await server.store.run(
      `UPDATE cra_user_notice_deliveries SET state = 'sent', acknowledged_at = NULL WHERE device_id = ?`,
      [devices.online.deviceId],
    );
    await stopChild(agents.get("online")!);
    start("online");
    await waitFor(
      "acknowledged again",
      async () => (await delivery(devices.online.deviceId))?.state === "acknowledged",
    );
    assert.equal(readFileSync(devices.online.hookLog, "utf8").split("\n").filter(Boolean).length, 1);
    const verified = await server.api<{ brokenAt: number | null }>("GET", "/api/v1/cra/awareness-log/verify");
    assert.equal(verified.body.brokenAt, null);
  });
});
