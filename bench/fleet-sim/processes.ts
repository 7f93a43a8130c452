import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";

const ROOT = new URL("../../", import.meta.url).pathname;
// Linux reports utime/stime in clock ticks; USER_HZ is 100 on every mainstream kernel config.
const CLOCK_TICKS = 100;

export interface ProcStats {
  rssKiB: number;
  cpuSeconds: number;
}

/** RSS and user+system CPU of a process, from /proc/PID/status and /proc/PID/stat (proc(5)). */
export function procStats(pid: number): ProcStats {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rssKiB = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN);
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  return { rssKiB, cpuSeconds };
}

export const sumStats = (stats: ProcStats[]): ProcStats => ({
  rssKiB: stats.reduce((a, s) => a + s.rssKiB, 0),
  cpuSeconds: stats.reduce((a, s) => a + s.cpuSeconds, 0),
});

/**
 * Waits until the processes `pids` together use less than `busyShare` of one core over a second
 * (at most `maxMs`), so that a measurement does not start while they still work off the previous
 * one (e.g. the presence writes and session clean-up of thousands of closed connections).
 */
export async function untilIdle(pids: number[], busyShare = 0.05, maxMs = 60_000): Promise<void> {
  const deadline = Date.now() + maxMs;
  let last = sumStats(pids.map(procStats)).cpuSeconds;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1000));
    const cpu = sumStats(pids.map(procStats)).cpuSeconds;
    if (cpu - last < busyShare) return;
    last = cpu;
  }
}

export interface ServerProcess {
  child: ChildProcess;
  pid: number;
  httpUrl: string;
  mqttPort: number;
  stop(): Promise<void>;
}

async function until<T>(what: string, check: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
      setTimeout(() => child.kill("SIGKILL"), 20_000).unref();
    });
}

/** The `--flags` that package.json's `start` script passes to node, so the bench runs the server as `npm start` does. */
function startScriptNodeFlags(): string[] {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: { start: string } };
  const [command, ...words] = pkg.scripts.start.split(/\s+/);
  if (command !== "node") throw new Error(`unexpected start script: ${pkg.scripts.start}`);
  return words.filter((word) => word.startsWith("--"));
}

/** `npm start` as a child process (what an operator runs); resolves once its banner is out. */
export async function startServerProcess(
  args: string[],
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  // The runtime flags `npm start` gives Node, then any extra ones, e.g.
  // BULWARK_BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the server.
  // "--import ./bench/fleet-sim/loop-delay.ts" logs its event-loop delay (see that file).
  const nodeArgs = [
    ...startScriptNodeFlags(),
    ...(process.env.BULWARK_BENCH_SERVER_NODE_ARGS ?? "").split(" ").filter(Boolean),
  ];
  const child = spawn(process.execPath, [...nodeArgs, join(ROOT, "packages/server/src/main.ts"), ...args], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, BULWARK_LOG_LEVEL: "warn", ...env },
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  const banner = await until(
    "server banner",
    () => {
      if (child.exitCode !== null) throw new Error(`server exited: ${stderr}`);
      return /Root CA SHA-256 fingerprint[^\n]*\n/.test(stderr) ? stderr : undefined;
    },
    120_000,
  );
  return {
    child,
    pid: child.pid!,
    httpUrl: /HTTPS API\s+(\S+)/.exec(banner)![1]!,
    mqttPort: Number(/MQTT\/TLS\s+\S+:(\d+)/.exec(banner)![1]),
    stop: stopper(child),
  };
}

export interface PeerProcess {
  pid: number;
  port: number;
  stop(): Promise<void>;
}

/** Debian's Mosquitto with the mutual-TLS template in `bench/peers/`, on loopback, as the peer broker. */
export async function startMosquitto(options: {
  dir: string;
  port: number;
  caPem: string;
  certChainPem: string;
  keyPem: string;
}): Promise<PeerProcess> {
  const template = readFileSync(new URL("../peers/mosquitto-mtls.conf.template", import.meta.url), "utf8");
  const dir = join(options.dir, "mosquitto");
  mkdirSync(dir, { mode: 0o700 });
  const files = { ca: join(dir, "ca.pem"), cert: join(dir, "cert.pem"), key: join(dir, "key.pem") };
  writeFileSync(files.ca, options.caPem);
  writeFileSync(files.cert, options.certChainPem);
  writeFileSync(files.key, options.keyPem, { mode: 0o600 });
  // Started as root, Mosquitto drops to its own user before reading the files: hand them over.
  const uid = mosquittoUid();
  if (uid !== undefined && process.getuid?.() === 0) {
    chmodSync(options.dir, 0o711);
    for (const path of [dir, ...Object.values(files)]) chownSync(path, uid, -1);
  }
  const conf = join(dir, "mosquitto.conf");
  writeFileSync(
    conf,
    template
      .replace("@PORT@", String(options.port))
      .replace("@CA_PEM@", files.ca)
      .replace("@SERVER_CERT_PEM@", files.cert)
      .replace("@SERVER_KEY_PEM@", files.key),
  );
  const child = spawn("mosquitto", ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  // Ready when the port accepts a TCP connection.
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: "127.0.0.1", port: options.port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (ok) break;
    if (child.exitCode !== null) throw new Error(`mosquitto exited: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { pid: child.pid!, port: options.port, stop: stopper(child) };
}

function mosquittoUid(): number | undefined {
  try {
    return Number(execFileSync("id", ["-u", "mosquitto"], { encoding: "utf8" }).trim());
  } catch {
    return undefined;
  }
}

/** The bare `node:tls` floor server (`tls-floor.ts`) with the broker's TLS settings. */
export function startTlsFloor(options: {
  port: number;
  caPem: string;
  certChainPem: string;
  keyPem: string;
}): Promise<PeerProcess> {
  return startFloor("tls-floor.ts", options);
}

/** The bare `node:https` download peer (`https-floor.ts`) serving `file` with the server's TLS settings. */
export function startHttpsFloor(options: {
  port: number;
  caPem: string;
  certChainPem: string;
  keyPem: string;
  file: string;
}): Promise<PeerProcess> {
  return startFloor("https-floor.ts", options);
}

async function startFloor(script: string, options: { port: number }): Promise<PeerProcess> {
  const child = spawn(process.execPath, [join(ROOT, "bench/fleet-sim", script), JSON.stringify(options)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8");
  });
  await until(
    script,
    () => {
      if (child.exitCode !== null) throw new Error(`${script} exited`);
      return output.includes("ready") ? true : undefined;
    },
    30_000,
  );
  return { pid: child.pid!, port: options.port, stop: stopper(child) };
}
