/**
 * One fleet-simulator worker process (forked by `fleet.ts`): holds up to ~19,000 device
 * connections, each real mutual TLS 1.3 with the device's own key and certificate, then a raw
 * MQTT 3.1.1 CONNECT. Talks to its parent over IPC (see `WorkerCommand` / `WorkerEvent`).
 */
import { readFileSync } from "node:fs";
import type { TcpNetConnectOpts } from "node:net";
import { type ConnectionOptions, connect, createSecureContext, type TLSSocket } from "node:tls";
import type { SimDevice } from "./identities.ts";
import { connackCode, connectPacket, DISCONNECT, PINGREQ } from "./mqtt-wire.ts";
import {
  type DeviceJobStats,
  downloadVerified,
  emptyTally,
  limiter,
  now,
  type Tally,
  UpdateDevice,
  type UpdateOptions,
  type UpdateWorld,
} from "./update-device.ts";

export interface ConnectCommand {
  cmd: "connect";
  host: string;
  /**
   * Ports to spread the devices over, round-robin by the device's line in the file (one per server
   * process): device i's own endpoint is i mod ports.length, and an update device fails over to the
   * next ones.
   */
  ports: number[];
  caPem: string;
  file: string;
  start: number;
  count: number;
  ecdhCurve: string;
  concurrency: number;
  keepaliveSeconds: number;
  /** With it, each device runs the update client (`update-device.ts`) instead of only holding its session. */
  update?: UpdateOptions;
}

/** Every device downloads `path` once from an HTTPS server (the download peer), `concurrency` at a time. */
export interface DownloadCommand {
  cmd: "download";
  port: number;
  path: string;
  expected: { sha256: string; length: number };
  concurrency: number;
}

export type WorkerCommand = ConnectCommand | DownloadCommand | { cmd: "stats" } | { cmd: "close-all" };

export type WorkerEvent =
  | { ev: "progress"; connected: number; failed: number }
  | { ev: "connected"; connected: number; failed: number; firstError?: string; group?: string }
  | { ev: "closed"; deviceId: string; at: number }
  | { ev: "tally"; tally: Tally }
  | { ev: "stats"; devices: DeviceJobStats[] }
  | { ev: "closed-all" };

const send = (event: WorkerEvent) => {
  if (process.connected) process.send?.(event);
};
const sockets = new Map<string, TLSSocket>();
let closingAll = false;
/** The update devices (with `update`), and what they counted; tallies go out at most every 200 ms. */
const updateDevices: UpdateDevice[] = [];
const contexts = new Map<string, { context: ReturnType<typeof createSecureContext>; localAddress: string }>();
const tally: Tally = emptyTally();
let tallyPending = false;
const tallyChanged = () => {
  if (tallyPending) return;
  tallyPending = true;
  setTimeout(() => {
    tallyPending = false;
    send({ ev: "tally", tally: { ...tally } });
  }, 200);
};
let world: UpdateWorld | undefined;

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

/**
 * Connects one device to endpoint `endpoint` (an index into the command's ports); resolves true on
 * CONNACK 0 (an update device: on its SUBACK), the reason otherwise.
 */
function connectDevice(
  device: SimDevice,
  endpoint: number,
  localAddress: string,
  command: ConnectCommand,
): Promise<string | true> {
  const secureContext = createSecureContext({
    key: device.keyPem,
    cert: device.certChainPem,
    ca: command.caPem,
    minVersion: "TLSv1.3",
    maxVersion: "TLSv1.3",
    ecdhCurve: command.ecdhCurve,
  });
  contexts.set(device.deviceId, { context: secureContext, localAddress });
  if (world) {
    const sim = new UpdateDevice(world, device, endpoint, localAddress, secureContext);
    updateDevices.push(sim);
    return sim.start();
  }
  return new Promise((resolve) => {
    // node:tls hands `localAddress` on to net.connect; its ConnectionOptions type does not list it.
    const options: ConnectionOptions & Pick<TcpNetConnectOpts, "localAddress"> = {
      host: command.host,
      port: command.ports[endpoint],
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
  if (command.update) {
    world = {
      host: command.host,
      mqttPorts: command.ports,
      options: command.update,
      tally,
      changed: tallyChanged,
      slot: limiter(command.update.downloadConcurrency),
      closing: () => closingAll,
      keepaliveSeconds: command.keepaliveSeconds,
    };
  }
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
        (command.start + index) % command.ports.length,
        sourceAddress(command.start + index),
        command,
      );
      if (result === true) {
        connected++;
        const socket = sockets.get(devices[index]!.deviceId) ?? updateDevices.at(-1)?.socket;
        group ??= (socket?.getEphemeralKeyInfo() as { name?: string } | null)?.name;
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
      for (const sim of updateDevices) sim.socket?.write(PINGREQ);
    },
    (command.keepaliveSeconds * 1000) / 2,
  ).unref();
  send({ ev: "connected", connected, failed, firstError, group });
}

/** The download peer phase: every device of this worker fetches `path` once, verified. */
async function downloadAll(command: DownloadCommand, host: string): Promise<void> {
  const slot = limiter(command.concurrency);
  await Promise.all(
    [...contexts.values()].map(({ context, localAddress }) =>
      slot(() =>
        downloadVerified({
          host,
          port: command.port,
          path: command.path,
          secureContext: context,
          localAddress,
          expected: command.expected,
          tally,
        }),
      ).then(
        () => {
          tally.downloaded++;
          tally.lastDownloadedAt = now();
          tallyChanged();
        },
        (error: Error) => {
          tally.downloadFailures++;
          tally.firstError ??= error.message;
          tallyChanged();
        },
      ),
    ),
  );
}

async function closeAll(): Promise<void> {
  closingAll = true;
  const open = [...sockets.values(), ...updateDevices.flatMap((d) => (d.socket ? [d.socket] : []))];
  const closing = open.map(
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

let host = "127.0.0.1";
process.on("message", (message: WorkerCommand) => {
  switch (message.cmd) {
    case "connect":
      host = message.host;
      void connectAll(message);
      break;
    case "download":
      void downloadAll(message, host);
      break;
    case "stats":
      send({ ev: "stats", devices: updateDevices.map((d) => d.stats()) });
      break;
    case "close-all":
      void closeAll();
      break;
  }
});
