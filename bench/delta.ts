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
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Readable } from "node:stream";
import { applyDelta } from "../packages/agent/src/updates/delta-apply.ts";
import { FileArtifactStore } from "../packages/server/src/updates/artifact-store.ts";
import { makeDelta } from "../packages/server/src/updates/delta-compress.ts";
import { nextRelease, realBinary } from "../test/delta-images.ts";

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
    const made = await makeDelta(store, base, full, 64 * 1024 * 1024);
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

if (import.meta.main) await run(process.argv.slice(2));
