/**
 * One fleet-simulator worker process (forked by `fleet.ts`): holds up to ~19,000 device
 * connections, each real mutual TLS 1.3 with the device's own key and certificate, then a raw
 * MQTT 3.1.1 CONNECT. Talks to its parent over IPC (see `WorkerCommand` / `WorkerEvent`).
 */
import { readFileSync } from "node:fs";
import type { TcpNetConnectOpts } from "node:net";
import { performance } from "node:perf_hooks";
import { type ConnectionOptions, connect, createSecureContext, type TLSSocket } from "node:tls";
import type { SimDevice } from "./identities.ts";
import { connackCode, connectPacket, DISCONNECT, PINGREQ } from "./mqtt-wire.ts";

export interface ConnectCommand {
  cmd: "connect";
  host: string;
  /** Ports to spread the devices over, round-robin (one per server process). */
  ports: number[];
  caPem: string;
  file: string;
  start: number;
  count: number;
  ecdhCurve: string;
  concurrency: number;
  keepaliveSeconds: number;
}

export type WorkerCommand = ConnectCommand | { cmd: "close-all" };

export type WorkerEvent =
  | { ev: "progress"; connected: number; failed: number }
  | { ev: "connected"; connected: number; failed: number; firstError?: string; group?: string }
  | { ev: "closed"; deviceId: string; at: number }
  | { ev: "closed-all" };

const send = (event: WorkerEvent) => process.send?.(event);
const now = () => performance.timeOrigin + performance.now();
const sockets = new Map<string, TLSSocket>();
let closingAll = false;

function loadDevices(file: string, start: number, count: number): SimDevice[] {
  const lines = readFileSync(file, "utf8").split("\n");
  return lines.slice(start, start + count).map((line) => JSON.parse(line) as SimDevice);
}

/**
 * The loopback source address of the device with this fleet-wide index: a real fleet arrives from
 * many addresses, so the simulated one is spread over 127.16.0.0/12 (all of 127/8 is loopback on
 * Linux), 64 devices per address. The broker's per-address connection-rate limit stays on and
 * applies to the simulator as it would to a NAT gateway of 64 devices.
 */
export function sourceAddress(index: number): string {
  const group = Math.floor(index / 64);
  return `127.${16 + (Math.floor(group / 64_000) % 16)}.${Math.floor(group / 250) % 256}.${(group % 250) + 1}`;
}

/** Connects one device; resolves true on CONNACK 0, false (with the reason) otherwise. */
function connectDevice(
  device: SimDevice,
  port: number,
  localAddress: string,
  command: ConnectCommand,
): Promise<string | true> {
  return new Promise((resolve) => {
    const secureContext = createSecureContext({
      key: device.keyPem,
      cert: device.certChainPem,
      ca: command.caPem,
      minVersion: "TLSv1.3",
      maxVersion: "TLSv1.3",
      ecdhCurve: command.ecdhCurve,
    });
    // node:tls hands `localAddress` on to net.connect; its ConnectionOptions type does not list it.
    const options: ConnectionOptions & Pick<TcpNetConnectOpts, "localAddress"> = {
      host: command.host,
      port,
      localAddress,
      secureContext,
      servername: "localhost",
    };
    const socket = connect(options);
    let settled = false;
    const settle = (result: string | true) => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    socket.once("secureConnect", () =>
      socket.write(connectPacket(device.deviceId, command.keepaliveSeconds)),
    );
    socket.once("data", (data: Buffer) => {
      const code = connackCode(data);
      if (code === 0) {
        sockets.set(device.deviceId, socket);
        settle(true);
      } else {
        settle(`CONNACK ${code ?? "malformed"}`);
        socket.destroy();
      }
    });
    socket.on("data", () => {});
    socket.on("error", (error) => settle(error.message));
    socket.once("close", () => {
      settle("closed before CONNACK");
      if (sockets.get(device.deviceId) === socket) {
        sockets.delete(device.deviceId);
        if (!closingAll) send({ ev: "closed", deviceId: device.deviceId, at: now() });
      }
    });
  });
}

/** 0 … n − 1 in a uniformly random order (Fisher–Yates). */
function shuffled(n: number): Uint32Array {
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

async function connectAll(command: ConnectCommand): Promise<void> {
  const devices = loadDevices(command.file, command.start, command.count);
  let next = 0;
  let connected = 0;
  let failed = 0;
  let firstError: string | undefined;
  let group: string | undefined;
  const progress = setInterval(() => send({ ev: "progress", connected, failed }), 1000);
  // A real fleet reconnects in no particular order (after a server restart, a network outage): the
  // devices connect in a random order, not in the order their certificates were issued, so the
  // registry lookups of a CONNECT do not walk the serial index from one end to the other.
  const order = shuffled(devices.length);
  const lane = async () => {
    while (next < devices.length) {
      const index = order[next++]!;
      const result = await connectDevice(
        devices[index]!,
        command.ports[index % command.ports.length]!,
        sourceAddress(command.start + index),
        command,
      );
      if (result === true) {
        connected++;
        group ??= (sockets.get(devices[index]!.deviceId)?.getEphemeralKeyInfo() as { name?: string } | null)
          ?.name;
      } else {
        failed++;
        firstError ??= result;
      }
    }
  };
  await Promise.all(Array.from({ length: command.concurrency }, lane));
  clearInterval(progress);
  // MQTT-3.1.2-24: keep each session alive well inside 1.5 × keepalive.
  setInterval(
    () => {
      for (const socket of sockets.values()) socket.write(PINGREQ);
    },
    (command.keepaliveSeconds * 1000) / 2,
  ).unref();
  send({ ev: "connected", connected, failed, firstError, group });
}

async function closeAll(): Promise<void> {
  closingAll = true;
  const closing = [...sockets.values()].map(
    (socket) =>
      new Promise<void>((resolve) => {
        socket.once("close", () => resolve());
        socket.end(DISCONNECT);
        setTimeout(() => socket.destroy(), 5000).unref();
      }),
  );
  await Promise.all(closing);
  send({ ev: "closed-all" });
  process.disconnect?.();
}

process.on("message", (message: WorkerCommand) => {
  switch (message.cmd) {
    case "connect":
      void connectAll(message);
      break;
    case "close-all":
      void closeAll();
      break;
  }
});
