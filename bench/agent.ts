/**
 * `npm run bench -- agent [--idle-seconds N] [--records N] [--record-kib N]`
 *
 * Two figures of issue #17, each against its peer measured in the same run:
 *   1. Idle footprint of one connected agent: RSS (VmRSS) and CPU (utime + stime from
 *      /proc/PID/stat) over an idle window, for the agent as shipped (`npm run build:agent`: the
 *      single executable), as one bundled file on the pinned Node, and from its TypeScript sources
 *      (type stripping), against a bare Node process (`setInterval` only) sampled the same way.
 *   2. Store throughput: `@bulwark/sdk/store` put + get of the same records against raw
 *      node:crypto AES-256-GCM encrypt + decrypt of the same bytes in memory, with a third figure,
 *      raw GCM plus the same durable write (temp file, fsync, rename, directory fsync), which is the
 *      ceiling for any store that promises a record survives a power cut once `put` returns.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import {
  closeSync,
  fsyncSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { openStore } from "../packages/sdk/src/store/index.ts";
import { memoryKek } from "../packages/sdk/src/store/kek.ts";
import { AGENT_BUNDLE, AGENT_EXECUTABLE, buildExecutable, bundleAgent } from "../scripts/build-agent.ts";
import {
  AGENT,
  createToken,
  enrolAgent,
  startTestServer,
  type TestServer,
  waitFor,
} from "../test/helpers.ts";
import { intArg } from "./fleet-sim/harness.ts";

const log = (line: string) => process.stderr.write(`${line}\n`);
const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

interface Footprint {
  rssMiB: number;
  cpuPercent: number;
}

const rssKiB = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
/** utime + stime, in clock ticks (proc(5): fields 14 and 15, counted after the parenthesised name). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** Samples the processes together over the same idle window: RSS every second (median), CPU over the window. */
async function sampleIdle(pids: Record<string, number>, seconds: number): Promise<Record<string, Footprint>> {
  const names = Object.keys(pids);
  const rss: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  const ticks0 = Object.fromEntries(names.map((n) => [n, cpuTicks(pids[n]!)]));
  const t0 = performance.now();
  for (let s = 0; s < seconds; s++) {
    await new Promise((r) => setTimeout(r, 1000));
    for (const n of names) rss[n]!.push(rssKiB(pids[n]!));
  }
  const elapsed = (performance.now() - t0) / 1000;
  return Object.fromEntries(
    names.map((n) => {
      const sorted = rss[n]!.sort((a, b) => a - b);
      const cpu = (cpuTicks(pids[n]!) - ticks0[n]!) / CLK_TCK / elapsed;
      return [
        n,
        {
          rssMiB: Number((sorted[sorted.length >> 1]! / 1024).toFixed(1)),
          cpuPercent: Number((cpu * 100).toFixed(3)),
        },
      ];
    }),
  );
}

function start(command: string, args: string[]): ChildProcess {
  return spawn(command, args, {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, BULWARK_AGENT_LOG_LEVEL: "warn" },
  });
}

async function idleFootprints(server: TestServer, idleSeconds: number): Promise<Record<string, Footprint>> {
  await bundleAgent();
  buildExecutable();
  const variants: Record<string, (stateDir: string) => ChildProcess> = {
    executable: (dir) => start(AGENT_EXECUTABLE, ["run", "--state-dir", dir]),
    bundle: (dir) => start(process.execPath, [AGENT_BUNDLE, "run", "--state-dir", dir]),
    sources: (dir) => start(process.execPath, [AGENT, "run", "--state-dir", dir]),
  };
  const children: ChildProcess[] = [];
  try {
    const pids: Record<string, number> = {};
    for (const [name, launch] of Object.entries(variants)) {
      const { stateDir, deviceId } = await enrolAgent(server, await createToken(server));
      const child = launch(stateDir);
      children.push(child);
      await waitFor(`${name} agent online`, async () => {
        const res = await server.api<{ online: boolean; metadata: { agentVersion?: string } }>(
          "GET",
          `/api/v1/devices/${deviceId}`,
        );
        return res.body.online && res.body.metadata.agentVersion !== undefined;
      });
      pids[name] = child.pid!;
    }
    const bare = start(process.execPath, ["-e", "setInterval(() => {}, 2 ** 30)"]);
    children.push(bare);
    pids.bareNode = bare.pid!;
    log(`all connected; settling 5 s, then sampling ${idleSeconds} s of idle`);
    await new Promise((r) => setTimeout(r, 5000));
    return await sampleIdle(pids, idleSeconds);
  } finally {
    for (const child of children) child.kill("SIGTERM");
  }
}

function gcmSeal(key: Buffer, data: Buffer): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  return Buffer.concat([iv, cipher.update(data), cipher.final(), cipher.getAuthTag()]);
}
function gcmOpen(key: Buffer, sealed: Buffer): Buffer {
  const decipher = createDecipheriv("aes-256-gcm", key, sealed.subarray(0, 12));
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  return Buffer.concat([decipher.update(sealed.subarray(12, sealed.length - 16)), decipher.final()]);
}
function durableWrite(path: string, bytes: Buffer): void {
  const temp = `${path}.tmp`;
  const fd = openSync(temp, "w", 0o600);
  writeSync(fd, bytes);
  fsyncSync(fd);
  closeSync(fd);
  renameSync(temp, path);
  const dir = openSync(join(path, ".."), "r");
  fsyncSync(dir);
  closeSync(dir);
}

/** MiB/s of put + get through the store, of raw GCM in memory, and of raw GCM + the same durable write. */
function storeThroughput(records: number, recordKiB: number) {
  const data = Array.from({ length: records }, () => randomBytes(recordKiB * 1024));
  const total = (records * recordKiB) / 1024;
  const key = randomBytes(32);
  const dir = mkdtempSync(join(tmpdir(), "bulwark-bench-store-"));
  try {
    const rate = (f: () => void) => {
      const t = performance.now();
      f();
      return total / ((performance.now() - t) / 1000);
    };
    const raw = rate(() => {
      for (const d of data) if (gcmOpen(key, gcmSeal(key, d)).length !== d.length) throw new Error("raw");
    });
    const store = openStore({ dir: join(dir, "store"), kek: memoryKek(key) });
    const viaStore = rate(() => {
      data.forEach((d, i) => {
        store.put("queue", `r${i}`, d);
      });
      data.forEach((d, i) => {
        if (store.get("queue", `r${i}`)?.length !== d.length) throw new Error("store");
      });
    });
    const durable = rate(() => {
      data.forEach((d, i) => {
        durableWrite(join(dir, `raw${i}`), gcmSeal(key, d));
      });
      data.forEach((d, i) => {
        if (gcmOpen(key, readFileSync(join(dir, `raw${i}`))).length !== d.length) throw new Error("durable");
      });
    });
    const t = performance.now();
    data.forEach((_, i) => {
      store.get("queue", `r${i}`);
    });
    const getOnly = total / ((performance.now() - t) / 1000);
    return { raw, viaStore, durable, getOnly };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(args: string[]): Promise<void> {
  const idleSeconds = intArg(args, "--idle-seconds", 30);
  const records = intArg(args, "--records", 200);
  const recordKiB = intArg(args, "--record-kib", 256);
  const server = await startTestServer();
  let idle: Record<string, Footprint>;
  try {
    idle = await idleFootprints(server, idleSeconds);
  } finally {
    await server.close();
  }
  log(JSON.stringify({ idle }));
  const store = storeThroughput(records, recordKiB);
  const round = (n: number) => Number(n.toFixed(1));
  log(
    JSON.stringify({
      store_mib_s: {
        store_put_get: round(store.viaStore),
        raw_gcm_in_memory: round(store.raw),
        raw_gcm_plus_durable_write: round(store.durable),
        store_get_only: round(store.getOnly),
      },
      records,
      record_kib: recordKiB,
    }),
  );
  const agent = idle.executable!;
  const bare = idle.bareNode!;
  const storeRatio = store.viaStore / store.raw;
  process.stdout.write(
    `${JSON.stringify({
      bench: "agent",
      metric: "idle_rss_connected_agent",
      value: agent.rssMiB,
      unit: "MiB",
      peer: "bare Node 26 process (same run)",
      peer_value: bare.rssMiB,
      ratio: Number((agent.rssMiB / bare.rssMiB).toFixed(2)),
      goal: "idle RSS <= 60 MiB, idle CPU <= 0.1 % of a core, store >= 80 % of raw AES-256-GCM",
      met: agent.rssMiB <= 60 && agent.cpuPercent <= 0.1 && storeRatio >= 0.8,
      idle_cpu_percent: agent.cpuPercent,
      bare_node_cpu_percent: bare.cpuPercent,
      bundle_on_node_rss_mib: idle.bundle!.rssMiB,
      sources_rss_mib: idle.sources!.rssMiB,
      store_mib_s: round(store.viaStore),
      raw_gcm_mib_s: round(store.raw),
      store_ratio: Number(storeRatio.toFixed(3)),
      raw_gcm_durable_mib_s: round(store.durable),
      store_ratio_to_durable: Number((store.viaStore / store.durable).toFixed(3)),
      store_get_mib_s: round(store.getOnly),
    })}\n`,
  );
}
