/**
 * `npm run bench -- kick [--devices N] [--processes 1|2] [--kicks K]`
 *
 * With N simulated devices connected, measures operator action → session closed: the time from
 * sending `POST /api/v1/devices/{id}/disconnect` to the device's client seeing its connection
 * close, for K devices one after another. With `--processes 2` the API call goes to process A
 * and every kicked device is connected to process B, so each kick crosses the Redis control bus.
 * The peer is the goal itself (p99 ≤ 50 ms on one process, ≤ 100 ms across two): there is no
 * equivalent operation on Mosquitto to compare with.
 */
import { performance } from "node:perf_hooks";
import { startFleet } from "./fleet-sim/fleet.ts";
import { intArg, setUpBench } from "./fleet-sim/harness.ts";

const log = (line: string) => process.stderr.write(`${line}\n`);

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

export async function run(args: string[]): Promise<void> {
  const processes = intArg(args, "--processes", 1);
  const devices = intArg(args, "--devices", 19_000 * processes);
  const kicks = Math.min(intArg(args, "--kicks", 200), Math.floor(devices / processes));
  const setup = await setUpBench({ devices, processes });
  try {
    const ports = setup.servers.map((s) => s.mqttPort);
    const fleet = await startFleet({ file: setup.file, devices, ports, caPem: setup.rootPem });
    log(
      `connected ${fleet.connected}/${devices} (${fleet.failed} failed${fleet.firstError ? `: ${fleet.firstError}` : ""})`,
    );
    const ids = (await import("node:fs")).readFileSync(setup.file, "utf8").split("\n").slice(0, devices);
    const apiServer = setup.servers[0]!;
    // Devices are spread over the ports round-robin: index i is on server i % processes; kick
    // those on the last server (process B in two-process mode).
    const targets: string[] = [];
    for (let i = processes - 1; i < devices && targets.length < kicks; i += processes * 7)
      targets.push((JSON.parse(ids[i]!) as { deviceId: string }).deviceId);
    const latencies: number[] = [];
    for (const deviceId of targets) {
      const closed = fleet.closedAt(deviceId);
      const started = performance.timeOrigin + performance.now();
      const res = await setup.api(apiServer, "POST", `/api/v1/devices/${deviceId}/disconnect`);
      if (res.status !== 202)
        throw new Error(`disconnect answered ${res.status}: ${JSON.stringify(res.body)}`);
      const timeout = new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(new Error(`device ${deviceId} was not disconnected within 10 s`)),
          10_000,
        ).unref(),
      );
      latencies.push((await Promise.race([closed, timeout])) - started);
    }
    await fleet.close();
    latencies.sort((a, b) => a - b);
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    const goal = processes > 1 ? 100 : 50;
    log(
      JSON.stringify({
        processes,
        devices,
        connected: fleet.connected,
        kicks: latencies.length,
        p50,
        p99,
        max: latencies.at(-1),
      }),
    );
    process.stdout.write(
      `${JSON.stringify({
        bench: "kick",
        metric: "api_disconnect_to_close_p99",
        value: Number(p99.toFixed(1)),
        unit: "ms",
        peer: `goal (${processes} process${processes > 1 ? "es, via Redis" : ""})`,
        peer_value: goal,
        ratio: Number((p99 / goal).toFixed(2)),
        goal: `p99 <= ${goal} ms at ${devices} connected`,
        met: p99 <= goal && fleet.connected === devices,
        devices,
        connected: fleet.connected,
        processes,
        kicks: latencies.length,
        p50_ms: Number(p50.toFixed(1)),
      })}\n`,
    );
  } finally {
    await setup.cleanup();
  }
}
