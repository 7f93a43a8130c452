import { type ChildProcess, fork } from "node:child_process";
import { type DeviceJobStats, emptyTally, type Tally, type UpdateOptions } from "./update-device.ts";
import type { ConnectCommand, WorkerCommand, WorkerEvent } from "./worker.ts";

export type { SimDevice } from "./identities.ts";
export { issueSimDevices } from "./identities.ts";
export type { DeviceJobStats, Tally, UpdateOptions } from "./update-device.ts";

/** Each worker process may hold at most this many sockets (`ulimit -n` is 20,000 here). */
export const MAX_PER_WORKER = 19_000;

export interface FleetOptions {
  /** JSON-lines file written by `issueSimDevices`. */
  file: string;
  /** How many devices (the first N lines of the file) to connect. */
  devices: number;
  host?: string;
  /**
   * Broker ports, one per server process; device i (its line in `file`) connects to port
   * i mod ports.length, and an update device with `reconnect` fails over to the others in turn.
   */
  ports: number[];
  caPem: string;
  /** Default: enough processes for the devices, at least two when there are more than 5,000. */
  workers?: number;
  /** TLS key-exchange group the devices offer, e.g. "X25519" or "X25519MLKEM768". */
  ecdhCurve?: string;
  /** Connects in flight per worker. */
  concurrency?: number;
  keepaliveSeconds?: number;
  /** Run the update client on each device (`update-device.ts`). */
  update?: UpdateOptions;
  onProgress?: (connected: number, failed: number) => void;
}

export interface Fleet {
  connected: number;
  failed: number;
  firstError: string | undefined;
  /** The key-exchange group negotiated (as the client saw it). */
  group: string | undefined;
  workers: number;
  /** Resolves with the wall-clock time (ms, sub-ms precision) at which this device's connection closed. */
  closedAt(deviceId: string): Promise<number>;
  /** What the workers counted so far, summed; `last*At` is the latest over all workers. */
  tally(): Tally;
  /**
   * Resolves with the wall-clock time of the `count`-th event of `kind` (the latest over the
   * workers) once that many happened; rejects after `timeoutMs`.
   */
  reached(kind: "notified" | "succeeded" | "downloaded", count: number, timeoutMs: number): Promise<number>;
  /** Every device downloads `path` from an HTTPS server on `port` once (the download peer). */
  downloadAll(options: Omit<Extract<WorkerCommand, { cmd: "download" }>, "cmd">): void;
  /** Each update device's jobs and how many times it installed each. */
  stats(): Promise<DeviceJobStats[]>;
  close(): Promise<void>;
}

function sumTallies(tallies: Tally[]): Tally {
  const sum = emptyTally();
  for (const t of tallies) {
    for (const key of COUNTS) sum[key] += t[key];
    for (const key of LATEST) sum[key] = Math.max(sum[key], t[key]);
    sum.firstError ??= t.firstError;
  }
  return sum;
}

const LATEST = ["lastNotifiedAt", "lastSucceededAt", "lastDownloadedAt"] as const;
const COUNTS = (Object.keys(emptyTally()) as (keyof Tally)[]).filter(
  (key): key is Exclude<keyof Tally, (typeof LATEST)[number] | "firstError"> =>
    key !== "firstError" && !(LATEST as readonly string[]).includes(key),
);

/**
 * The fleet simulator: N devices with real keys and certificates over real mutual TLS 1.3 and
 * MQTT 3.1.1, spread over several worker processes. Resolves when every device has connected
 * or failed.
 */
export async function startFleet(options: FleetOptions): Promise<Fleet> {
  if (options.update?.behaviour === "agent" && options.update.httpsPorts.length !== options.ports.length)
    throw new Error("update.httpsPorts needs one HTTPS port per broker port, in the same order");
  const workerCount =
    options.workers ?? Math.max(Math.ceil(options.devices / MAX_PER_WORKER), options.devices > 5000 ? 2 : 1);
  const perWorker = Math.ceil(options.devices / workerCount);
  if (perWorker > MAX_PER_WORKER)
    throw new Error(`${perWorker} devices per worker is over ${MAX_PER_WORKER}`);
  const closes = new Map<string, number>();
  const waiting = new Map<string, (at: number) => void>();
  const progress = new Map<ChildProcess, [number, number]>();
  const children: ChildProcess[] = [];
  const tallies = new Map<ChildProcess, Tally>();
  const tallyListeners = new Set<() => void>();
  const statsWaiting = new Map<ChildProcess, (devices: DeviceJobStats[]) => void>();
  const results = await Promise.all(
    Array.from({ length: workerCount }, (_, i) => {
      const child = fork(new URL("./worker.ts", import.meta.url).pathname, [], { stdio: "inherit" });
      children.push(child);
      return new Promise<Extract<WorkerEvent, { ev: "connected" }>>((resolve, reject) => {
        child.on("message", (event: WorkerEvent) => {
          switch (event.ev) {
            case "progress":
              progress.set(child, [event.connected, event.failed]);
              options.onProgress?.(
                [...progress.values()].reduce((a, p) => a + p[0], 0),
                [...progress.values()].reduce((a, p) => a + p[1], 0),
              );
              break;
            case "connected":
              resolve(event);
              break;
            case "closed":
              closes.set(event.deviceId, event.at);
              waiting.get(event.deviceId)?.(event.at);
              break;
            case "tally":
              tallies.set(child, event.tally);
              for (const listener of tallyListeners) listener();
              break;
            case "stats":
              statsWaiting.get(child)?.(event.devices);
              break;
            case "closed-all":
              break;
          }
        });
        child.once("exit", (code) => reject(new Error(`fleet worker exited with ${code}`)));
        const command: ConnectCommand = {
          cmd: "connect",
          host: options.host ?? "127.0.0.1",
          ports: options.ports,
          caPem: options.caPem,
          file: options.file,
          start: i * perWorker,
          count: Math.max(0, Math.min(perWorker, options.devices - i * perWorker)),
          ecdhCurve: options.ecdhCurve ?? "X25519",
          concurrency: options.concurrency ?? 16,
          keepaliveSeconds: options.keepaliveSeconds ?? 600,
          update: options.update,
        };
        child.send(command satisfies WorkerCommand);
      });
    }),
  );
  return {
    connected: results.reduce((a, r) => a + r.connected, 0),
    failed: results.reduce((a, r) => a + r.failed, 0),
    firstError: results.find((r) => r.firstError)?.firstError,
    group: results.find((r) => r.group)?.group,
    workers: workerCount,
    closedAt(deviceId) {
      const at = closes.get(deviceId);
      if (at !== undefined) return Promise.resolve(at);
      return new Promise((resolve) => waiting.set(deviceId, resolve));
    },
    tally: () => sumTallies([...tallies.values()]),
    reached(kind, count, timeoutMs) {
      const last = {
        notified: "lastNotifiedAt",
        succeeded: "lastSucceededAt",
        downloaded: "lastDownloadedAt",
      } as const;
      return new Promise((resolve, reject) => {
        const check = () => {
          const sum = sumTallies([...tallies.values()]);
          if (sum[kind] < count) return;
          tallyListeners.delete(check);
          clearTimeout(timer);
          resolve(sum[last[kind]]);
        };
        const timer = setTimeout(() => {
          tallyListeners.delete(check);
          const sum = sumTallies([...tallies.values()]);
          reject(
            new Error(
              `${sum[kind]} of ${count} ${kind} after ${timeoutMs} ms (first error: ${sum.firstError})`,
            ),
          );
        }, timeoutMs);
        tallyListeners.add(check);
        check();
      });
    },
    downloadAll(command) {
      for (const child of children) child.send({ cmd: "download", ...command } satisfies WorkerCommand);
    },
    async stats() {
      const all = await Promise.all(
        children.map(
          (child) =>
            new Promise<DeviceJobStats[]>((resolve) => {
              statsWaiting.set(child, resolve);
              child.send({ cmd: "stats" } satisfies WorkerCommand);
            }),
        ),
      );
      return all.flat();
    },
    async close() {
      await Promise.all(
        children.map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              child.removeAllListeners("exit");
              child.once("exit", () => resolve());
              if (child.connected) child.send({ cmd: "close-all" } satisfies WorkerCommand);
              else child.kill("SIGTERM");
              setTimeout(() => child.kill("SIGKILL"), 30_000).unref();
            }),
        ),
      );
    },
  };
}
