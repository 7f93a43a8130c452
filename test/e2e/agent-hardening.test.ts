import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ownListeningPorts, processSockets } from "../../packages/agent/src/sockets.ts";
import {
  createToken,
  enrolAgent,
  spawnAgent,
  startTestServer,
  stopChild,
  type TestServer,
  waitFor,
} from "../helpers.ts";

interface DeviceView {
  online: boolean;
  metadata: { listeningPorts?: number[]; agentIntegrity?: string; agentVersion?: string };
}

describe("agent hardening: no listening socket, its ports and integrity in its metadata", () => {
  let server: TestServer;
  let agent: ReturnType<typeof spawnAgent>;
  let deviceId: string;

  before(async () => {
    server = await startTestServer();
    let stateDir: string;
    ({ stateDir, deviceId } = await enrolAgent(server, await createToken(server)));
    agent = spawnAgent(stateDir);
  });
  after(async () => {
    await stopChild(agent);
    await server.close();
  });

  it("the connected agent process holds its MQTT connection and listens on nothing", async () => {
    const device = await waitFor("agent online with metadata", async () => {
      const d = (await server.api<DeviceView>("GET", `/api/v1/devices/${deviceId}`)).body;
      return d.online && d.metadata.agentVersion ? d : undefined;
    });
    const mqttPort = Number(new URL(server.mqttUrl).port);
    const sockets = processSockets(agent.pid!);
    // Positive control: the sockets of the agent's own process are found (its TLS connection to the broker).
    assert.ok(
      sockets.some((s) => s.protocol.startsWith("tcp") && s.remotePort === mqttPort && s.state === "01"),
      JSON.stringify(sockets),
    );
    assert.deepEqual(
      sockets.filter((s) => s.listening),
      [],
      "no listening TCP socket, no bound UDP socket",
    );
    // The same reading finds the listeners of a process that has them: this one runs the server.
    assert.ok(ownListeningPorts(process.pid)?.includes(mqttPort));
    assert.deepEqual(device.metadata.listeningPorts, []);
    assert.equal(device.metadata.agentIntegrity, "ok");
  });
});
