import assert from "node:assert/strict";
import { connect as tcpConnect } from "node:net";
import { after, before, describe, it } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { httpsRequest } from "../../packages/sdk/src/https.ts";
import { SIGNATURE } from "../../packages/server/src/net/proxy-protocol.ts";
import { enrolDirect } from "../enrol-helpers.ts";
import { idleFlood } from "../flood-helpers.ts";
import { createToken, startTestServer, type TestServer, waitFor } from "../helpers.ts";
import { connectWith, deviceOptions } from "../mqtt-helpers.ts";
import { proxyV2Header, startBalancer } from "../proxy-helpers.ts";

// A TCP load balancer at 127.0.0.3 relays devices to the server with a PROXY protocol v2 header
// (haproxy's proxy-protocol.txt §2.2); the addresses it names are loopback ones too.
const BALANCER = "127.0.0.3";
const DEVICE_ADDRESS = "127.0.0.77";

describe("PROXY protocol v2 from a configured load balancer", () => {
  let server: TestServer;
  const logLines: string[] = [];
  const balancers: { close(): Promise<void> }[] = [];
  const balancer = async (clientAddress: string, to: "http" | "mqtt", header?: () => Buffer) => {
    const port = to === "http" ? server.httpPort : server.mqttPort;
    const lb = await startBalancer({
      target: { address: "127.0.0.1", port },
      balancerAddress: BALANCER,
      clientAddress,
      header,
    });
    balancers.push(lb);
    return lb.port;
  };
  /** A request whose API key is wrong: refused, and audited with the request's address. */
  const refusedRequest = (port: number) =>
    httpsRequest({
      url: `https://127.0.0.1:${port}/api/v1/devices`,
      ca: server.rootPem,
      headers: { authorization: "Bearer bw_wrong" },
    });
  const auditedAddresses = async () => {
    const audit = await server.api<{ items: { action: string; details: { remoteAddress?: string } }[] }>(
      "GET",
      "/api/v1/audit?limit=1000",
    );
    return audit.body.items.filter((e) => e.action === "auth.sign-in").map((e) => e.details.remoteAddress);
  };

  before(async () => {
    server = await startTestServer({
      logLines,
      args: [
        "--proxy-protocol-from",
        `${BALANCER}/32`,
        "--http-max-per-address",
        "3",
        "--handshake-timeout-ms",
        "3000",
      ],
    });
  });
  after(async () => {
    for (const lb of balancers) await lb.close();
    await server.close();
  });

  it("the device's own address reaches request.ip, the request log and the audit entry", async () => {
    const port = await balancer(DEVICE_ADDRESS, "http");
    assert.equal((await refusedRequest(port)).status, 401);
    assert.ok((await auditedAddresses()).includes(DEVICE_ADDRESS));
    const logged = logLines.map((l) => JSON.parse(l) as { req?: { remoteAddress?: string } });
    assert.ok(logged.some((l) => l.req?.remoteAddress === DEVICE_ADDRESS));
    assert.ok(
      !logged.some((l) => l.req?.remoteAddress === BALANCER),
      "the balancer's address is not the client's",
    );
  });

  it("the per-address cap counts each device behind the balancer, not the balancer", async (t) => {
    const crowded = await balancer("127.0.0.78", "http");
    const flood = await idleFlood({ port: crowded, localAddress: "127.0.0.1", count: 5, batch: 5 });
    t.after(() => flood.destroy());
    // 3 held, 2 refused: all five came from the balancer's one address, under one client's.
    await flood.closedAtLeast(2, 20_000);
    await waitFor("three held", async () => server.admission.https.openFrom("127.0.0.78") === 3);
    assert.equal(server.admission.https.openFrom(BALANCER), 0);
    // Another device through the same balancer is admitted meanwhile.
    assert.equal((await refusedRequest(await balancer("127.0.0.79", "http"))).status, 401);
    assert.ok((await auditedAddresses()).includes("127.0.0.79"));
  });

  it("MQTT through the balancer: TLS starts after the header, the session is logged with the device's address", async () => {
    const device = await enrolDirect(server, await createToken(server));
    const port = await balancer(DEVICE_ADDRESS, "mqtt");
    const client = await connectWith(server, { ...deviceOptions(server, device), port } as never);
    const connected = await waitFor("the connection logged", async () =>
      logLines
        .map((l) => JSON.parse(l) as { msg?: string; deviceId?: string; remoteAddress?: string })
        .find((l) => l.msg === "device connected" && l.deviceId === device.deviceId),
    );
    assert.equal(connected.remoteAddress, DEVICE_ADDRESS);
    // Its handshake deadline was found and cleared through the balancer too.
    assert.equal(server.admission.mqtt.handshaking(), 0);
    await client.endAsync();
  });

  it("LOCAL (the balancer's health check) keeps the balancer's own address", async () => {
    const local = () => Buffer.concat([SIGNATURE, Buffer.from([0x20, 0x00, 0x00, 0x00])]);
    const port = await balancer("127.0.0.80", "http", local);
    assert.equal((await refusedRequest(port)).status, 401);
    assert.ok((await auditedAddresses()).includes(BALANCER));
  });

  it("a connection from the balancer without a valid header is refused before TLS", async () => {
    const before = server.admission.https.refused()["proxy-header"];
    const direct = tlsConnect({
      ca: server.rootPem,
      socket: await rawWithPreamble(server.httpPort, BALANCER),
    });
    assert.match(await handshake(direct), /ECONNRESET|disconnected before secure TLS connection/);
    assert.equal(server.admission.https.refused()["proxy-header"], before + 1);
    // A broken header (command 2) from the balancer: refused the same way.
    const bad = () => Buffer.concat([SIGNATURE, Buffer.from([0x22, 0x11, 0x00, 0x0c]), Buffer.alloc(12)]);
    await assert.rejects(
      refusedRequest(await balancer("127.0.0.81", "http", bad)),
      /ECONNRESET|socket hang up|disconnected/,
    );
    assert.equal(server.admission.https.refused()["proxy-header"], before + 2);
  });

  it("a header split across segments is put together; one that stops halfway is cut at the handshake deadline", async () => {
    const header = proxyV2Header(
      { address: "127.0.0.82", port: 4000 },
      { address: "127.0.0.1", port: server.httpPort },
    );
    const split = await rawWithPreamble(server.httpPort, BALANCER, header.subarray(0, 7));
    split.setNoDelay(true);
    await new Promise((resolve) => setTimeout(resolve, 50)); // the stimulus: a gap between the segments
    split.write(header.subarray(7));
    assert.equal(
      await handshake(tlsConnect({ ca: server.rootPem, socket: split, servername: "localhost" })),
      "secure",
    );
    await waitFor(
      "counted under the header's address",
      async () => server.admission.https.openFrom("127.0.0.82") === 1,
    );
    split.destroy();

    const before = server.admission.https.refused()["handshake-timeout"];
    const stalled = await rawWithPreamble(server.httpPort, BALANCER, header.subarray(0, 20));
    await new Promise<void>((resolve) => stalled.once("close", () => resolve()));
    assert.equal(server.admission.https.refused()["handshake-timeout"], before + 1);
  });

  it("a header from any other address is never read: the bytes go to TLS, which fails", async () => {
    const spoofed = tlsConnect({
      host: "127.0.0.1",
      port: server.httpPort,
      ca: server.rootPem,
      // Written before the ClientHello, as a balancer would.
      socket: await rawWithPreamble(
        server.httpPort,
        "127.0.0.1",
        proxyV2Header({ address: "127.0.0.99", port: 1 }, { address: "127.0.0.1", port: server.httpPort }),
      ),
    });
    assert.notEqual(await handshake(spoofed), "secure");
    assert.equal(server.admission.https.openFrom("127.0.0.99"), 0);
    assert.ok(!logLines.some((l) => l.includes("127.0.0.99")));
    // Positive control: the same client without a header is served under its real address.
    assert.equal((await refusedRequest(server.httpPort)).status, 401);
    assert.ok((await auditedAddresses()).includes("127.0.0.1"));
  });
});

/** How a TLS handshake ends: "secure", or the error's message. */
function handshake(socket: ReturnType<typeof tlsConnect>): Promise<string> {
  return new Promise((resolve) => {
    socket.once("secureConnect", () => {
      socket.destroy();
      resolve("secure");
    });
    socket.once("error", (error) => resolve(error.message));
  });
}

/** A TCP connection from `localAddress` that has written `preamble`, for TLS to continue on. */
async function rawWithPreamble(port: number, localAddress: string, preamble?: Buffer) {
  const socket = tcpConnect({ host: "127.0.0.1", port, localAddress });
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  if (preamble) socket.write(preamble);
  return socket;
}
