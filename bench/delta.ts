/**
 * Benchmark (issue #15 item 10): `npm run bench -- delta [MiB]` takes a real binary (the first
 * MiB of the pinned Node executable, default 32), makes its next release the way a build
 * changes one (a patched region, an insertion that shifts the rest, an appended section; ~74 KiB
 * of new bytes), and measures in the same run:
 * - the delta's size against the full artifact's (the bytes a device downloads), goal ≤ 5 %;
 * - the server's delta computation (time, the event loop's longest stall while it runs, and
 *   while idle for as long, the machine's own noise);
 * - the device's streamed rebuild (`applyDelta`: decompress with the old image as dictionary,
 *   hash, write, fsync) against a plain write + fsync of the full image (the peer);
 * - peak RSS of the process (server and device side run here one after the other).
 *
 * `npm run bench -- delta large [MiB]` (default 256): the segmented format (`zstd-seg`) on a root
 * filesystem-like image of real bytes (the pinned Node executable, then `node_modules` files in
 * 4 KiB blocks; `test/delta-images.ts`), its next release with ~1.8 MiB of new bytes including a
 * 1 MiB insertion that shifts everything after it. The server's computation and the device's
 * rebuild each run in a process of their own, so each side's peak RSS is its own; an idle Node
 * process's peak RSS is measured beside them (the baseline).
 */

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Readable } from "node:stream";
import { applyDelta } from "../packages/agent/src/updates/delta-apply.ts";
import { FileArtifactStore } from "../packages/server/src/updates/artifact-store.ts";
import { makeDelta } from "../packages/server/src/updates/delta-compress.ts";
import { segmentedLayout } from "../packages/server/src/updates/delta-segmented.ts";
import { nextRelease, nextRootfs, realBinary, rootfsImage } from "../test/delta-images.ts";

const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;

async function plainWrite(path: string, image: Buffer): Promise<number> {
  const start = process.hrtime.bigint();
  const file = await open(path, "w");
  for (let at = 0; at < image.length; at += 64 * 1024) await file.write(image.subarray(at, at + 64 * 1024));
  await file.sync();
  await file.close();
  return seconds(start);
}

export async function run(args: string[]): Promise<void> {
  if (args[0] === "--side") return side(args[1]!, args[2]!);
  if (args[0] === "large") return large(Number(args[1] ?? 256));
  const mib = Number(args[0] ?? 32);
  const dir = mkdtempSync(join(tmpdir(), "bulwark-bench-delta-"));
  try {
    const old = realBinary(mib * 1024 * 1024);
    const { image, changed } = nextRelease(old);
    const store = new FileArtifactStore(join(dir, "artifacts"));
    const base = await store.put(Readable.from([old]), old.length);
    const full = await store.put(Readable.from([image]), image.length);

    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    let start = process.hrtime.bigint();
    const made = await makeDelta(store, base, full, {
      maxImageBytes: 64 * 1024 * 1024,
      maxSegmentedImageBytes: 0,
    });
    const serverSeconds = seconds(start);
    loop.disable();
    if ("skipped" in made) throw new Error(`no delta was made: ${made.skipped}`);
    const delta = made.delta;
    // The same time idle: how long the loop stalls on this machine anyway (other processes, GC).
    const idle = monitorEventLoopDelay({ resolution: 10 });
    idle.enable();
    await new Promise((resolve) => setTimeout(resolve, serverSeconds * 1000));
    idle.disable();

    const basePath = join(dir, "slot-a.img");
    const deltaPath = join(dir, "delta.zst");
    writeFileSync(basePath, old);
    const chunks: Buffer[] = [];
    for await (const c of await store.read(delta.sha256)) chunks.push(c as Buffer);
    writeFileSync(deltaPath, Buffer.concat(chunks));
    const hashes = {
      sha256: createHash("sha256").update(image).digest("hex"),
      sha512: createHash("sha512").update(image).digest("hex"),
    };
    const plain = await plainWrite(join(dir, "plain.img"), image);
    start = process.hrtime.bigint();
    await applyDelta({
      delta: deltaPath,
      base: basePath,
      dest: join(dir, "rebuilt.img"),
      length: image.length,
      hashes,
    });
    const apply = seconds(start);
    const plainAgain = await plainWrite(join(dir, "plain2.img"), image);
    const plainSeconds = Math.min(plain, plainAgain);

    const imageMib = image.length / 1024 / 1024;
    const rss = process.resourceUsage().maxRSS * 1024;
    const ratio = delta.length / image.length;
    process.stdout.write(
      `${mib} MiB real binary, ~${Math.round(changed / 1024)} KiB changed: delta ${delta.length} bytes of ${image.length} (${(ratio * 100).toFixed(2)} %); ` +
        `server delta ${serverSeconds.toFixed(2)} s (event loop max stall ${(loop.max / 1e6).toFixed(1)} ms, idle ${(idle.max / 1e6).toFixed(1)} ms); ` +
        `device rebuild ${apply.toFixed(2)} s (${(imageMib / apply).toFixed(0)} MiB/s) vs plain write+fsync ${plainSeconds.toFixed(2)} s (${(imageMib / plainSeconds).toFixed(0)} MiB/s); ` +
        `peak RSS ${(rss / 1024 / 1024).toFixed(0)} MiB\n`,
    );
    process.stdout.write(
      `${JSON.stringify({
        bench: "delta",
        metric: "delta_bytes",
        value: delta.length,
        unit: "bytes",
        peer: "full artifact download",
        peer_value: image.length,
        ratio: Number(ratio.toFixed(4)),
        goal: "<= 0.05",
        met: ratio <= 0.05,
        image_mib: Number(imageMib.toFixed(1)),
        apply_mib_s: Math.round(imageMib / apply),
        plain_write_mib_s: Math.round(imageMib / plainSeconds),
        apply_vs_plain_write: Number((plainSeconds / apply).toFixed(3)),
        server_delta_s: Number(serverSeconds.toFixed(2)),
        event_loop_max_stall_ms: Number((loop.max / 1e6).toFixed(1)),
        event_loop_idle_max_stall_ms: Number((idle.max / 1e6).toFixed(1)),
        peak_rss_mib: Math.round(rss / 1024 / 1024),
      })}\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const MiB = 1024 * 1024;
/**
 * This process's own peak RSS: VmHWM of /proc/self/status (its memory map's high-water mark, new
 * at exec). `resourceUsage().maxRSS` would carry the parent's RSS at fork into a child's figure.
 */
function peakRssMib(): number {
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  return Math.round(Number(hwm?.[1] ?? process.resourceUsage().maxRSS) / 1024);
}

/**
 * One side of the large bench, in a process of its own (`--side server|device|idle DIR`): reads
 * `DIR/job.json`, writes `DIR/{side}.json` with its time and peak RSS.
 */
async function side(which: string, dir: string): Promise<void> {
  const job = JSON.parse(readFileSync(join(dir, "job.json"), "utf8"));
  const start = process.hrtime.bigint();
  let result: Record<string, unknown> = {};
  if (which === "server") {
    const store = new FileArtifactStore(join(dir, "artifacts"));
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const made = await makeDelta(store, job.base, job.full, {
      maxImageBytes: 32 * MiB,
      maxSegmentedImageBytes: 64 * 1024 * MiB,
    });
    loop.disable();
    if ("skipped" in made) throw new Error(`no delta was made: ${made.skipped}`);
    result = { delta: made.delta, format: made.format, stallMs: loop.max / 1e6 };
  } else if (which === "device") {
    await applyDelta({
      delta: join(dir, "delta.zseg"),
      base: join(dir, "slot-a.img"),
      dest: join(dir, "rebuilt.img"),
      length: job.full.length,
      hashes: { sha256: job.full.sha256, sha512: job.full.sha512 },
      format: job.format,
    });
  }
  result = { ...result, seconds: seconds(start), peakRssMib: peakRssMib() };
  writeFileSync(join(dir, `${which}.json`), JSON.stringify(result));
}

async function large(mib: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-bench-delta-large-"));
  const runSide = (which: string) => {
    execFileSync(process.execPath, [new URL(import.meta.url).pathname, "--side", which, dir], {
      stdio: "inherit",
    });
    return JSON.parse(readFileSync(join(dir, `${which}.json`), "utf8"));
  };
  try {
    const old = rootfsImage(mib * MiB);
    const { image, changed } = nextRootfs(old);
    const store = new FileArtifactStore(join(dir, "artifacts"));
    const base = await store.put(Readable.from([old]), old.length);
    const full = await store.put(Readable.from([image]), image.length);
    writeFileSync(join(dir, "slot-a.img"), old);
    writeFileSync(join(dir, "job.json"), JSON.stringify({ base, full }));
    const idle = runSide("idle");
    const server = runSide("server");
    const { segmentBytes, referenceBytes } = segmentedLayout(old.length);
    const format = { format: server.format, segmentBytes, referenceBytes };
    writeFileSync(join(dir, "job.json"), JSON.stringify({ base, full, format }));
    const chunks: Buffer[] = [];
    for await (const c of await store.read(server.delta.sha256)) chunks.push(c as Buffer);
    writeFileSync(join(dir, "delta.zseg"), Buffer.concat(chunks));
    chunks.length = 0;
    const plain = await plainWrite(join(dir, "plain.img"), image);
    rmSync(join(dir, "plain.img"));
    const device = runSide("device");
    const rebuilt = createHash("sha256")
      .update(readFileSync(join(dir, "rebuilt.img")))
      .digest("hex");
    if (rebuilt !== full.sha256) throw new Error("the rebuilt image is not the new release");
    const imageMib = image.length / MiB;
    const ratio = server.delta.length / image.length;
    process.stdout.write(
      `${mib} MiB rootfs-like image, ~${Math.round(changed / 1024)} KiB changed: ${server.format} delta ${server.delta.length} bytes of ${image.length} (${(ratio * 100).toFixed(2)} %); ` +
        `server ${server.seconds.toFixed(2)} s (loop max stall ${server.stallMs.toFixed(1)} ms), peak RSS ${server.peakRssMib} MiB; ` +
        `device rebuild ${device.seconds.toFixed(2)} s (${(imageMib / device.seconds).toFixed(0)} MiB/s), peak RSS ${device.peakRssMib} MiB; ` +
        `plain write+fsync ${plain.toFixed(2)} s (${(imageMib / plain).toFixed(0)} MiB/s); idle Node peak RSS ${idle.peakRssMib} MiB\n`,
    );
    process.stdout.write(
      `${JSON.stringify({
        bench: "delta-large",
        metric: "delta_bytes",
        value: server.delta.length,
        unit: "bytes",
        peer: "full artifact download",
        peer_value: image.length,
        ratio: Number(ratio.toFixed(4)),
        goal: "<= 0.05; peak RSS independent of image size",
        met: ratio <= 0.05,
        format: server.format,
        image_mib: Number(imageMib.toFixed(1)),
        server_delta_s: Number(server.seconds.toFixed(2)),
        event_loop_max_stall_ms: Number(server.stallMs.toFixed(1)),
        server_peak_rss_mib: server.peakRssMib,
        device_apply_s: Number(device.seconds.toFixed(2)),
        device_apply_mib_s: Math.round(imageMib / device.seconds),
        device_peak_rss_mib: device.peakRssMib,
        plain_write_mib_s: Math.round(imageMib / plain),
        idle_node_peak_rss_mib: idle.peakRssMib,
      })}\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) await run(process.argv.slice(2));
