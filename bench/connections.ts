/**
 * `npm run bench -- connections [--devices N] [--processes 1|2] [--pqc-devices M]`
 *
 * Holds N simulated devices (real keys, certificates, mutual TLS 1.3, MQTT) on the broker and
 * reports server RSS per device and mutual-TLS handshakes (TLS + MQTT CONNECT) per broker
 * CPU-second, against Debian's Mosquitto 2.0.11 with the same CA, certificates and TLS
 * parameters (TLS 1.3, X25519 pinned by the clients) measured in the same run. With
 * `--processes 2` the devices are spread over two server processes in scale-out mode
 * (PostgreSQL + Redis); the peer then holds min(N, 19,000). X25519MLKEM768 handshakes are
 * measured on our broker only (Debian's Mosquitto links OpenSSL 3.0, which lacks ML-KEM).
 * For context the same devices are also held by a bare `node:tls` server with the broker's TLS
 * settings (`fleet-sim/tls-floor.ts`): the memory and CPU the Node.js runtime itself costs per
 * mutual-TLS connection, which no broker on Node.js can go below.
 */
import { type Fleet, MAX_PER_WORKER, startFleet } from "./fleet-sim/fleet.ts";
import { type BenchSetup, intArg, setUpBench } from "./fleet-sim/harness.ts";
import {
  type PeerProcess,
  type ProcStats,
  procStats,
  startMosquitto,
  startTlsFloor,
  sumStats,
  untilIdle,
} from "./fleet-sim/processes.ts";

const log = (line: string) => process.stderr.write(`${line}\n`);

interface Phase {
  devices: number;
  connected: number;
  failed: number;
  firstError?: string;
  group?: string;
  rssPerDeviceKiB: number;
  handshakesPerCpuSecond: number;
  cpuSeconds: number;
  wallSeconds: number;
}

/** Connects `devices` to `ports`, measuring the broker processes `pids` before and after. */
async function measure(
  setup: BenchSetup,
  pids: number[],
  ports: number[],
  devices: number,
  ecdhCurve: string,
  label: string,
): Promise<{ phase: Phase; fleet: Fleet }> {
  await new Promise((r) => setTimeout(r, 1000));
  const before: ProcStats = sumStats(pids.map(procStats));
  const started = Date.now();
  let lastLog = 0;
  const fleet = await startFleet({
    file: setup.file,
    devices,
    ports,
    caPem: setup.rootPem,
    ecdhCurve,
    workers: Math.max(Math.ceil(devices / MAX_PER_WORKER), devices > 5000 ? 2 * ports.length : 1),
    onProgress: (connected, failed) => {
      if (Date.now() - lastLog > 10_000) {
        lastLog = Date.now();
        log(`  ${label}: ${connected} connected, ${failed} failed`);
      }
    },
  });
  const wallSeconds = (Date.now() - started) / 1000;
  const connectedCpu = sumStats(pids.map(procStats)).cpuSeconds;
  // Let the broker settle (presence writes, GC) before reading its resident memory.
  await new Promise((r) => setTimeout(r, 5000));
  const after = sumStats(pids.map(procStats));
  const cpuSeconds = connectedCpu - before.cpuSeconds;
  const phase: Phase = {
    devices,
    connected: fleet.connected,
    failed: fleet.failed,
    firstError: fleet.firstError,
    group: fleet.group,
    rssPerDeviceKiB: (after.rssKiB - before.rssKiB) / Math.max(fleet.connected, 1),
    handshakesPerCpuSecond: fleet.connected / Math.max(cpuSeconds, 0.01),
    cpuSeconds,
    wallSeconds,
  };
  log(`${label}: ${JSON.stringify(phase)}`);
  return { phase, fleet };
}

/** Starts a peer server, holds `devices` on it (X25519), measures it, and stops it. */
async function measurePeer(
  setup: BenchSetup,
  start: () => Promise<PeerProcess>,
  devices: number,
  label: string,
): Promise<Phase> {
  const server = await start();
  try {
    const measured = await measure(setup, [server.pid], [server.port], devices, "X25519", label);
    await measured.fleet.close();
    return measured.phase;
  } finally {
    await server.stop();
  }
}

export async function run(args: string[]): Promise<void> {
  const processes = intArg(args, "--processes", 1);
  const devices = intArg(args, "--devices", 19_000 * processes);
  const pqcDevices = Math.min(intArg(args, "--pqc-devices", 2000), devices);
  if (devices > MAX_PER_WORKER * processes)
    throw new Error(`at most ${MAX_PER_WORKER} devices per server process (ulimit -n is 20,000)`);
  log(`setting up ${processes} server process(es) and ${devices} device identities`);
  const setup = await setUpBench({ devices, processes });
  try {
    const peerDevices = Math.min(devices, MAX_PER_WORKER);
    const peerOptions = {
      port: 18_000 + Math.floor(Math.random() * 10_000),
      caPem: setup.rootPem,
      ...setup.serverIdentity,
    };
    // Peer: Mosquitto with the same CA and the server's own certificate.
    const peer = await measurePeer(
      setup,
      () => startMosquitto({ dir: setup.dir, ...peerOptions }),
      peerDevices,
      "mosquitto",
    );
    // The runtime's own floor: bare node:tls with the broker's TLS settings, same devices.
    const floor = await measurePeer(setup, () => startTlsFloor(peerOptions), peerDevices, "node:tls floor");

    const pids = setup.servers.map((s) => s.pid);
    const ports = setup.servers.map((s) => s.mqttPort);
    const ours = await measure(setup, pids, ports, devices, "X25519", "bulwark");
    const health = await Promise.all(setup.servers.map((s) => setup.api(s, "GET", "/healthz")));
    const held = health.reduce(
      (a, h) => a + ((h.body as { devicesConnected: number }).devicesConnected ?? 0),
      0,
    );
    log(`bulwark reports ${held} devices connected across ${processes} process(es)`);
    await ours.fleet.close();
    // Closing the fleet leaves the servers work (presence, session clean-up; in scale-out mode
    // over PostgreSQL and Redis): the ML-KEM phase starts once it is done.
    await untilIdle(pids);
    const pqc = await measure(setup, pids, ports, pqcDevices, "X25519MLKEM768", "bulwark-mlkem");
    await pqc.fleet.close();

    const ratio = ours.phase.handshakesPerCpuSecond / peer.handshakesPerCpuSecond;
    const detail = {
      processes,
      devices,
      held,
      bulwark: ours.phase,
      mosquitto: peer,
      node_tls_floor: floor,
      bulwark_x25519mlkem768: pqc.phase,
    };
    log(JSON.stringify(detail));
    const rssMet = ours.phase.rssPerDeviceKiB <= 50;
    const allHeld = ours.phase.connected === devices && held === devices;
    process.stdout.write(
      `${JSON.stringify({
        bench: "connections",
        metric: "handshakes_per_broker_cpu_second",
        value: Math.round(ours.phase.handshakesPerCpuSecond),
        unit: "handshakes/cpu-s",
        peer: "mosquitto 2.0.11",
        peer_value: Math.round(peer.handshakesPerCpuSecond),
        ratio: Number(ratio.toFixed(2)),
        goal: ">= 1.0x peer; <= 50 KiB RSS/device; all devices held",
        met: ratio >= 1 && rssMet && allHeld,
        devices,
        processes,
        held,
        rss_per_device_kib: Number(ours.phase.rssPerDeviceKiB.toFixed(1)),
        peer_rss_per_device_kib: Number(peer.rssPerDeviceKiB.toFixed(1)),
        // Bare node:tls with the same TLS settings and devices: the Node.js runtime's own cost.
        node_tls_floor_rss_per_device_kib: Number(floor.rssPerDeviceKiB.toFixed(1)),
        node_tls_floor_handshakes_per_cpu_second: Math.round(floor.handshakesPerCpuSecond),
        mlkem_handshakes_per_cpu_second: Math.round(pqc.phase.handshakesPerCpuSecond),
      })}\n`,
    );
  } finally {
    await setup.cleanup();
  }
}
