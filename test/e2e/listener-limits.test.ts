import assert from "node:assert/strict";
import { connect as tcpConnect } from "node:net";
import { after, before, describe, it } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { deviceTopics } from "../../packages/sdk/src/wire/topics.ts";
import { type EnrolledDevice, enrolDirect } from "../enrol-helpers.ts";
import { idleFlood } from "../flood-helpers.ts";
import { createToken, startTestServer, type TestServer, waitFor } from "../helpers.ts";
import { connectDevice } from "../mqtt-helpers.ts";

// Issue #13 item 4: one unauthenticated address must not hold the server's descriptors.
// The flood comes from 127.0.0.2, the device from 127.0.0.1 (Linux routes all of 127/8 to loopback).
const FLOODER = "127.0.0.2";
const CAP = 40;
const FLOOD = 300;

describe("listener admission: an idle flood from one address while a device from another enrols and connects", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      args: [
        "--mqtt-max-per-address",
        String(CAP),
        "--http-max-per-address",
        String(CAP),
        "--handshake-timeout-ms",
        "3000",
        "--mqtt-connect-timeout-ms",
        "1000",
        "--http-request-timeout-ms",
        "1000",
      ],
    });
  });
  after(async () => {
    await server.close();
  });

  it("holds at most the per-address cap on each port, serves the device, then closes the idle sockets at the handshake deadline", async (t) => {
    const mqttFlood = await idleFlood({ port: server.mqttPort, localAddress: FLOODER, count: FLOOD });
    const httpFlood = await idleFlood({ port: server.httpPort, localAddress: FLOODER, count: FLOOD });
    t.after(() => {
      mqttFlood.destroy();
      httpFlood.destroy();
    });
    // What is over the cap is closed at once, before any TLS work.
    await mqttFlood.closedAtLeast(FLOOD - CAP, 20_000);
    await httpFlood.closedAtLeast(FLOOD - CAP, 20_000);
    assert.equal(server.admission.mqtt.openFrom(FLOODER), CAP);
    assert.equal(server.admission.https.openFrom(FLOODER), CAP);
    assert.equal(mqttFlood.open(), CAP);
    assert.equal(httpFlood.open(), CAP);

    // Meanwhile, from 127.0.0.1: the health check, EST enrolment over HTTPS, MQTT CONNECT and a publish.
    assert.equal((await server.api("GET", "/healthz")).status, 200);
    const device = await enrolDirect(server, await createToken(server));
    const client = await connectDevice(server, device);
    await client.publishAsync(deviceTopics(device.deviceId).meta, JSON.stringify({ model: "m1" }), {
      qos: 1,
    });

    // The flood never sent a ClientHello: every held socket is closed at the handshake deadline.
    await mqttFlood.closedAtLeast(FLOOD, 30_000);
    await httpFlood.closedAtLeast(FLOOD, 30_000);
    for (const guard of [server.admission.mqtt, server.admission.https]) {
      await waitFor("the server's side of the flood closed", async () => guard.openFrom(FLOODER) === 0);
      assert.equal(guard.refused()["address-cap"], FLOOD - CAP);
      assert.equal(guard.refused()["handshake-timeout"], CAP);
    }
    // No handshake is pending: the device's own deadline was cleared when its handshake completed.
    assert.equal(server.admission.mqtt.handshaking(), 0);
    assert.equal(server.admission.https.handshaking(), 0);
    // The device's session outlived the flood.
    await client.publishAsync(deviceTopics(device.deviceId).meta, JSON.stringify({ model: "m2" }), {
      qos: 1,
    });
    await client.endAsync();
  });

  const silentPair = async (port: number, tls: { key?: string; cert?: string }) => {
    const order: string[] = [];
    const silentTls = tlsConnect({
      host: "127.0.0.1",
      port,
      ca: server.rootPem,
      minVersion: "TLSv1.3",
      ...tls,
    });
    const silentTcp = tcpConnect({ host: "127.0.0.1", port });
    for (const [name, socket] of [
      ["after TLS, silent", silentTls],
      ["no ClientHello", silentTcp],
    ] as const) {
      socket.on("error", () => {});
      socket.once("close", () => order.push(name));
    }
    await new Promise<void>((resolve, reject) => {
      silentTls.once("secureConnect", () => resolve());
      silentTls.once("close", () => reject(new Error("TLS handshake failed")));
    });
    await waitFor("both silent connections closed by the server", async () => order.length === 2, 30_000);
    return order;
  };

  it("MQTT: a TLS connection that sends no CONNECT is closed at the CONNECT deadline, before a silent TCP one meets the handshake deadline", async () => {
    const device = await enrolDirect(server, await createToken(server));
    // MQTT-3.1.0-1: CONNECT must be the first packet; this client completes TLS and then says nothing.
    const order = await silentPair(server.mqttPort, { key: device.keyPem, cert: device.certChainPem });
    // 1 s CONNECT deadline after the handshake versus 3 s from accept to a completed handshake.
    assert.deepEqual(order, ["after TLS, silent", "no ClientHello"]);
  });

  it("HTTPS: a TLS connection that sends no request is closed at the first-request deadline, before a silent TCP one", async () => {
    // Node's headersTimeout starts with a request's first byte; this one never sends one.
    const order = await silentPair(server.httpPort, {});
    assert.deepEqual(order, ["after TLS, silent", "no ClientHello"]);
    // Positive control: a connection that sends its request in time is served.
    assert.equal((await server.api("GET", "/healthz")).status, 200);
  });
});

describe("listener admission: the process-wide cap", () => {
  let server: TestServer;
  let device: EnrolledDevice;
  before(async () => {
    server = await startTestServer({ args: ["--max-connections", "30", "--handshake-timeout-ms", "3000"] });
    device = await enrolDirect(server, await createToken(server));
  });
  after(async () => {
    await server.close();
  });

  it("refuses connections beyond it on every port and address, and recovers when the idle ones are closed", async (t) => {
    assert.equal(server.admission.budget.max, 30);
    const flood = await idleFlood({ port: server.mqttPort, localAddress: FLOODER, count: 100 });
    t.after(() => flood.destroy());
    await flood.closedAtLeast(70, 20_000);
    assert.equal(server.admission.budget.open, 30);
    assert.equal(server.admission.mqtt.refused()["global-cap"], 70);
    // Full: a device from another address is refused too (the cap protects the process's descriptors).
    await assert.rejects(
      connectDevice(server, device),
      /disconnected before secure TLS connection|closed before CONNACK|ECONNRESET/,
    );
    await flood.closedAtLeast(100, 30_000);
    const client = await connectDevice(server, device);
    assert.ok(client.connected);
    await client.endAsync();
    await waitFor("every connection released", async () => server.admission.budget.open === 0);
  });
});
