/**
 * Benchmark (issue #15 item 9): `npm run bench -- sign [MiB]` streams a 1 GiB artifact (default)
 * through the server's `ArtifactStore` (SHA-256 here and SHA-512 on a second thread computed
 * while streaming, written to disk behind the hashing, fsynced) and signs a TUF targets role listing it with the hybrid pair (ECDSA P-256 +
 * ML-DSA-65), against node:crypto SHA-256 alone over the same bytes in the same run. Goal: at
 * least 80 % of the SHA-256 throughput, memory constant (peak RSS reported).
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  buildRoot,
  generateKeyPair,
  localSigner,
  signMetadata,
  TufRepository,
} from "../packages/sdk/src/tuf/index.ts";
import { FileArtifactStore } from "../packages/server/src/updates/artifact-store.ts";

const CHUNK = Buffer.alloc(1024 * 1024);
for (let i = 0; i < CHUNK.length; i++) CHUNK[i] = (i * 2654435761) >>> 24;

async function* bytes(mib: number): AsyncIterable<Buffer> {
  for (let i = 0; i < mib; i++) yield CHUNK;
}

function hashOnly(algorithm: "sha256" | "sha512", mib: number): number {
  const start = process.hrtime.bigint();
  const hash = createHash(algorithm);
  for (let i = 0; i < mib; i++) hash.update(CHUNK);
  hash.digest();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** The durable write alone: the same bytes written and fsynced to the same disk, no hashing. */
async function writeOnly(mib: number, dir: string): Promise<number> {
  const path = join(dir, "write-only");
  const start = process.hrtime.bigint();
  const file = await open(path, "wx", 0o600);
  try {
    for (let i = 0; i < mib; i++) await file.write(CHUNK);
    await file.sync();
  } finally {
    await file.close();
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await rm(path);
  return seconds;
}

async function storeAndSign(mib: number, dir: string): Promise<number> {
  const pairs = ["root", "targets", "snapshot", "timestamp"].map(() => [
    generateKeyPair("ecdsa"),
    generateKeyPair("ml-dsa"),
  ]);
  const signers = pairs.map((pair) => pair.map((k) => localSigner(k.privateKey)));
  const role = (i: number) => ({ keys: pairs[i]!.map((k) => k.key), threshold: 1 });
  const root = buildRoot({
    version: 1,
    expires: "2030-01-01T00:00:00Z",
    roles: { root: role(0), targets: role(1), snapshot: role(2), timestamp: role(3) },
  });
  const start = process.hrtime.bigint();
  const stored = await new FileArtifactStore(dir).put(bytes(mib), mib * 1024 * 1024);
  const repo = TufRepository.create(await signMetadata(root, signers[0]!));
  repo.setTarget("firmware/1.0.0/image.bin", {
    length: stored.length,
    hashes: { sha256: stored.sha256, sha512: stored.sha512 },
    custom: { version: "1.0.0", kind: "security" },
  });
  await repo.publish({ targets: signers[1], snapshot: signers[2], timestamp: signers[3] });
  return Number(process.hrtime.bigint() - start) / 1e9;
}

export async function run(args: string[]): Promise<void> {
  const mib = Number(args[0] ?? 1024);
  const dir = mkdtempSync(join(tmpdir(), "bulwark-bench-sign-"));
  try {
    const peer = hashOnly("sha256", mib);
    const ours = await storeAndSign(mib, dir);
    const peerAgain = hashOnly("sha256", mib);
    // The two bounds of the pipeline, in the same run: one SHA-512 (sequential by nature; the
    // store computes it on a second thread) and the durable write of the same bytes.
    const sha512Seconds = hashOnly("sha512", mib);
    const writeSeconds = await writeOnly(mib, dir);
    const peerSeconds = Math.min(peer, peerAgain);
    const mibps = mib / ours;
    const peerMibps = mib / peerSeconds;
    const sha512Mibps = mib / sha512Seconds;
    const writeMibps = mib / writeSeconds;
    const ceiling = Math.min(sha512Mibps, writeMibps) / peerMibps;
    const rss = process.resourceUsage().maxRSS * 1024;
    process.stdout.write(
      `store (SHA-256 + SHA-512 on a second thread + write + fsync) and hybrid-sign ${mib} MiB: ${ours.toFixed(2)} s (${mibps.toFixed(0)} MiB/s); ` +
        `node:crypto SHA-256 alone: ${peerSeconds.toFixed(2)} s (${peerMibps.toFixed(0)} MiB/s); ` +
        `bounds in this run: SHA-512 alone ${sha512Mibps.toFixed(0)} MiB/s, write + fsync alone ${writeMibps.toFixed(0)} MiB/s ` +
        `(ceiling ${ceiling.toFixed(2)} of SHA-256); peak RSS ${(rss / 1024 / 1024).toFixed(0)} MiB\n`,
    );
    const ratio = mibps / peerMibps;
    process.stdout.write(
      `${JSON.stringify({
        bench: "sign",
        metric: "throughput_mib_s",
        value: Math.round(mibps),
        unit: "MiB/s",
        peer: "node:crypto sha256",
        peer_value: Math.round(peerMibps),
        ratio: Number(ratio.toFixed(3)),
        goal: ">= 0.8",
        met: ratio >= 0.8,
        sha512_alone_mib_s: Math.round(sha512Mibps),
        durable_write_alone_mib_s: Math.round(writeMibps),
        ceiling_ratio: Number(ceiling.toFixed(3)),
        peak_rss_mib: Math.round(rss / 1024 / 1024),
      })}\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) await run(process.argv.slice(2));
