/**
 * Benchmark (issue #15 item 9): `npm run bench -- sign [MiB]` streams a 1 GiB artifact (default)
 * through the server's `ArtifactStore` (SHA-256 and SHA-512 computed while streaming, written
 * to disk, fsynced) and signs a TUF targets role listing it with the hybrid pair (ECDSA P-256 +
 * ML-DSA-65), against node:crypto SHA-256 alone over the same bytes in the same run. Goal: at
 * least 80 % of the SHA-256 throughput, memory constant (peak RSS reported).
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
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

function sha256Only(mib: number): number {
  const start = process.hrtime.bigint();
  const hash = createHash("sha256");
  for (let i = 0; i < mib; i++) hash.update(CHUNK);
  hash.digest();
  return Number(process.hrtime.bigint() - start) / 1e9;
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
    const peer = sha256Only(mib);
    const ours = await storeAndSign(mib, dir);
    const peerAgain = sha256Only(mib);
    const peerSeconds = Math.min(peer, peerAgain);
    const mibps = mib / ours;
    const peerMibps = mib / peerSeconds;
    const rss = process.resourceUsage().maxRSS * 1024;
    process.stdout.write(
      `store (SHA-256 + SHA-512 + write + fsync) and hybrid-sign ${mib} MiB: ${ours.toFixed(2)} s (${mibps.toFixed(0)} MiB/s); ` +
        `node:crypto SHA-256 alone: ${peerSeconds.toFixed(2)} s (${peerMibps.toFixed(0)} MiB/s); peak RSS ${(rss / 1024 / 1024).toFixed(0)} MiB\n`,
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
        peak_rss_mib: Math.round(rss / 1024 / 1024),
      })}\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) await run(process.argv.slice(2));
