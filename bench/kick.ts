/**
 * `npm run bench -- kick [--devices N] [--processes 1|2] [--kicks K]`
 *
 * With N simulated devices connected, measures operator action → session closed through the API,
 * for K devices one after another per action: `POST /api/v1/devices/{id}/disable` (the incident
 * action of issue #5: status and audit entry committed, then the live session closed; the figure
 * the goal is about) and `POST /api/v1/devices/{id}/disconnect` (no stored change, reported
 * alongside). Each latency runs from sending the request to the device's client seeing its
 * connection close. With `--processes 2` the API call goes to process A and every kicked device
 * is connected to process B, so each kick crosses the Redis control bus. The peer is the goal
 * itself (p99 ≤ 50 ms on one process, ≤ 100 ms across two): Mosquitto has no such operation.
 */
import { performance } from "node:perf_hooks";
import { type Fleet, startFleet } from "./fleet-sim/fleet.ts";
import { type BenchSetup, intArg, setUpBench } from "./fleet-sim/harness.ts";

const log = (line: string) => process.stderr.write(`${line}\n`);

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

type KickAction = "disable" | "disconnect";
/** What each action answers when it was applied. */
const ACCEPTED: Record<KickAction, number> = { disable: 200, disconnect: 202 };

/** Applies `action` to each device in turn; returns the sorted request → close latencies, ms. */
async function kickAll(
  setup: BenchSetup,
  fleet: Fleet,
  action: KickAction,
  deviceIds: string[],
): Promise<number[]> {
  const apiServer = setup.servers[0]!;
  const latencies: number[] = [];
  for (const deviceId of deviceIds) {
    const closed = fleet.closedAt(deviceId);
    const started = performance.timeOrigin + performance.now();
    const res = await setup.api(apiServer, "POST", `/api/v1/devices/${deviceId}/${action}`);
    if (res.status !== ACCEPTED[action])
      throw new Error(`${action} answered ${res.status}: ${JSON.stringify(res.body)}`);
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new Error(`device ${deviceId} was not disconnected within 10 s of ${action}`)),
        10_000,
      ).unref(),
    );
    latencies.push((await Promise.race([closed, timeout])) - started);
  }
  return latencies.sort((a, b) => a - b);
}

const summary = (sorted: number[]) => ({
  p50: Number(percentile(sorted, 50).toFixed(1)),
  p99: Number(percentile(sorted, 99).toFixed(1)),
  max: Number(sorted.at(-1)!.toFixed(1)),
});

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
    // Devices are spread over the ports round-robin: index i is on server i % processes; kick
    // those on the last server (process B in two-process mode), alternating the two actions.
    const targets: Record<KickAction, string[]> = { disable: [], disconnect: [] };
    for (let i = processes - 1, n = 0; i < devices && n < 2 * kicks; i += processes * 7, n++)
      targets[n % 2 === 0 ? "disable" : "disconnect"].push(
        (JSON.parse(ids[i]!) as { deviceId: string }).deviceId,
      );
    if (targets.disconnect.length === 0)
      throw new Error(`too few devices to kick with both actions: use --devices ${8 * processes} or more`);
    const disabled = await kickAll(setup, fleet, "disable", targets.disable);
    const disconnected = await kickAll(setup, fleet, "disconnect", targets.disconnect);
    await fleet.close();
    const disable = summary(disabled);
    const disconnect = summary(disconnected);
    const goal = processes > 1 ? 100 : 50;
    log(
      JSON.stringify({
        processes,
        devices,
        connected: fleet.connected,
        kicks: disabled.length,
        disable,
        disconnect,
      }),
    );
    process.stdout.write(
      `${JSON.stringify({
        bench: "kick",
        metric: "api_disable_to_close_p99",
        value: disable.p99,
        unit: "ms",
        peer: `goal (${processes} process${processes > 1 ? "es, via Redis" : ""})`,
        peer_value: goal,
        ratio: Number((disable.p99 / goal).toFixed(2)),
        goal: `p99 <= ${goal} ms at ${devices} connected`,
        met: disable.p99 <= goal && disconnect.p99 <= goal && fleet.connected === devices,
        devices,
        connected: fleet.connected,
        processes,
        kicks_per_action: disabled.length,
        disable_p50_ms: disable.p50,
        disable_max_ms: disable.max,
        disconnect_p99_ms: disconnect.p99,
        disconnect_p50_ms: disconnect.p50,
      })}\n`,
    );
  } finally {
    await setup.cleanup();
  }
}
