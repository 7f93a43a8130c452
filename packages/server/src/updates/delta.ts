import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { Worker } from "node:worker_threads";
import { constants } from "node:zlib";
import { BulwarkError } from "@bulwark/sdk/errors";
import type { TargetFile } from "@bulwark/sdk/tuf";
import {
  DELTA_FORMAT,
  DELTA_LIMITS,
  type DeltaCustom,
  deltaTargetPath,
  zstdDeltaParams,
} from "@bulwark/sdk/wire/delta";
import semver from "semver";
import type { Queryable } from "../store/store.ts";
import type { ArtifactStore, StoredObject } from "./artifact-store.ts";
import type { Artifact } from "./artifacts.ts";

/** Server settings of delta generation (`--delta-max-image-bytes`, `--delta-base-releases`). */
export interface DeltaConfig {
  /** Largest base or new image a delta is made for (0: no deltas); at most `DELTA_LIMITS.maxImageBytes`. */
  maxImageBytes: number;
  /** How many of the previous published releases of the component serve as bases (default 1). */
  baseReleases: number;
}

export const DEFAULT_DELTA_CONFIG: DeltaConfig = {
  maxImageBytes: 32 * 1024 * 1024,
  baseReleases: 1,
};

export interface DeltaDeps {
  artifacts: ArtifactStore;
  delta: DeltaConfig;
}

/** A delta made at publish time, recorded with the release (`artifact_deltas`, migration 915). */
export interface ArtifactDelta extends StoredObject {
  id: string;
  releaseId: string;
  /** The full artifact's name it reconstructs. */
  artifactName: string;
  /** Its own target file name: `{artifactName}.from-{baseSha256}.zst`. */
  name: string;
  baseReleaseId: string;
  baseSha256: string;
  format: typeof DELTA_FORMAT;
}

interface Base {
  releaseId: string;
  version: string;
  artifact: Artifact;
}

/**
 * The bases a new artifact gets deltas from: the same-named artifact of the last `count`
 * published releases of the same product and component (newest first), skipping identical bytes.
 */
export async function deltaBases(
  db: Queryable,
  release: { id: string; productId: string; component: string },
  artifact: Artifact,
  count: number,
): Promise<Base[]> {
  if (count < 1) return [];
  const rows = await db.all<{ release_id: string; version: string }>(
    `SELECT r.id AS release_id, r.version FROM releases r JOIN release_updates u ON u.release_id = r.id
     WHERE r.product_id = ? AND u.component = ? AND u.published_at IS NOT NULL AND r.id <> ?`,
    [release.productId, release.component, release.id],
  );
  const previous = rows
    .filter((r) => semver.valid(r.version))
    .sort((a, b) => semver.rcompare(a.version, b.version))
    .slice(0, count);
  const bases: Base[] = [];
  for (const p of previous) {
    const row = await db.get<{ length: number | string; sha256: string; sha512: string; id: string }>(
      `SELECT id, length, sha256, sha512 FROM artifacts WHERE release_id = ? AND name = ?`,
      [p.release_id, artifact.name],
    );
    if (!row || row.sha256 === artifact.sha256) continue;
    bases.push({
      releaseId: p.release_id,
      version: p.version,
      artifact: {
        ...artifact,
        id: row.id,
        length: Number(row.length),
        sha256: row.sha256,
        sha512: row.sha512,
      },
    });
  }
  return bases;
}

async function readAll(stream: Readable, length: number): Promise<Buffer> {
  // Its own ArrayBuffer (never a pooled slice): it is handed over to the worker, not copied.
  const buffer = Buffer.allocUnsafeSlow(length);
  let at = 0;
  for await (const chunk of stream) {
    const c = chunk as Buffer;
    if (at + c.length > length) throw new BulwarkError("BW_ERR_INTERNAL", "stored base longer than recorded");
    c.copy(buffer, at);
    at += c.length;
  }
  if (at !== length) throw new BulwarkError("BW_ERR_INTERNAL", "stored base shorter than recorded");
  return buffer;
}

/**
 * Compresses `source` with `dictionary` on a worker thread (`delta-worker.ts`), one chunk in
 * flight at a time; the compressed bytes come out of the returned stream. Destroying the stream
 * stops the worker.
 */
function compressOnWorker(dictionary: Buffer, params: Record<number, number>, source: Readable): Readable {
  const worker = new Worker(new URL("./delta-worker.ts", import.meta.url), { execArgv: [] });
  let drained: (() => void) | undefined;
  let finished = false;
  const output = new Readable({
    read() {},
    destroy(error, callback) {
      source.destroy();
      void worker.terminate().then(() => callback(error));
    },
  });
  const fail = (error: Error) => {
    if (!output.destroyed) output.destroy(error);
  };
  worker.on("message", (m: { type: string; chunk?: Uint8Array; message?: string }) => {
    if (m.type === "out") output.push(Buffer.from(m.chunk!.buffer, m.chunk!.byteOffset, m.chunk!.byteLength));
    else if (m.type === "drained") drained?.();
    else if (m.type === "done") {
      finished = true;
      output.push(null);
      void worker.terminate();
    } else if (m.type === "error") fail(new Error(`delta compression: ${m.message}`));
  });
  worker.on("error", fail);
  worker.on("exit", () => {
    if (!finished) fail(new Error("the delta worker stopped"));
  });
  worker.postMessage({ type: "start", dictionary, params }, [dictionary.buffer as ArrayBuffer]);
  void (async () => {
    for await (const chunk of source) {
      if (output.destroyed) return;
      const done = new Promise<void>((resolve) => {
        drained = resolve;
      });
      worker.postMessage({ type: "data", chunk });
      await done;
    }
    worker.postMessage({ type: "end" });
  })().catch(fail);
  return output;
}

/**
 * Computes the `zstd-dict` delta of `full` from `base` (RFC 8878, the base as dictionary) and
 * stores it content-addressed. Memory: the base is held once as the dictionary, plus zstd's hash
 * and chain tables (2 × 4 × 2^hashLog bytes) and its window; the new image streams, one chunk at a
 * time. Compression (and building the dictionary's tables) runs on a worker thread, so the event
 * loop is not blocked. Skipped (with the reason) when either image is over the cap, or when the
 * delta would not be smaller than the full image (the store refuses it past `full.length - 1`
 * bytes, so a useless delta is never written whole).
 */
export async function makeDelta(
  artifacts: ArtifactStore,
  base: StoredObject,
  full: StoredObject,
  maxImageBytes: number,
): Promise<{ delta: StoredObject } | { skipped: string }> {
  const cap = Math.min(maxImageBytes, DELTA_LIMITS.maxImageBytes);
  if (base.length > cap || full.length > cap)
    return { skipped: `an image is over the delta cap of ${cap} bytes (--delta-max-image-bytes)` };
  if (full.length < 2) return { skipped: "the image is too small for a delta" };
  const dictionary = await readAll(await artifacts.read(base.sha256), base.length);
  const { windowLog, hashLog } = zstdDeltaParams(base.length, full.length);
  const params = {
    [constants.ZSTD_c_compressionLevel]: 9,
    [constants.ZSTD_c_windowLog]: windowLog,
    [constants.ZSTD_c_hashLog]: hashLog,
    [constants.ZSTD_c_chainLog]: hashLog,
    [constants.ZSTD_c_checksumFlag]: 1,
  };
  const compressed = compressOnWorker(dictionary, params, await artifacts.read(full.sha256));
  try {
    return { delta: await artifacts.put(compressed, full.length - 1) };
  } catch (error) {
    compressed.destroy();
    if (error instanceof BulwarkError && error.code === "BW_ERR_PAYLOAD_TOO_LARGE")
      return { skipped: "the delta would not be smaller than the full image" };
    throw error;
  }
}

/** The delta's TUF target (TUF spec §4.5: length and hashes, like any target; Bulwark's custom fields). */
export function deltaTarget(
  full: { path: string; target: TargetFile },
  base: Base,
  delta: StoredObject,
): TargetFile {
  const { windowLog } = zstdDeltaParams(base.artifact.length, full.target.length);
  const custom: DeltaCustom = {
    format: DELTA_FORMAT,
    base: { sha256: base.artifact.sha256, length: base.artifact.length, version: base.version },
    target: { path: full.path, length: full.target.length, sha256: full.target.hashes.sha256! },
    windowLog,
  };
  const { advisory: _a, severity: _s, cves: _c, action: _x, ...rest } = full.target.custom ?? {};
  return {
    length: delta.length,
    hashes: { sha256: delta.sha256, sha512: delta.sha512 },
    custom: { ...rest, delta: custom },
  };
}

export interface PublishedDelta {
  path: string;
  target: TargetFile;
  row: ArtifactDelta;
}

/** A delta publishing did not make, and why (reported to the operator, never silent). */
export interface SkippedDelta {
  artifact: string;
  baseVersion: string;
  reason: string;
}

/**
 * At publish (issue #15 item 10): a delta for each of the release's artifacts from each base
 * (`deltaBases`), as its own target beside the full one. Skipped (no target, the reason kept) where
 * an image is over the cap, the delta is no smaller than the full image, or computing it failed:
 * a delta is an optimisation, so it never stands in the way of publishing a (security) release.
 */
export async function buildDeltas(
  db: Queryable,
  deps: DeltaDeps,
  release: { id: string; productId: string; component: string },
  fulls: { artifact: Artifact; path: string; target: TargetFile }[],
): Promise<{ made: PublishedDelta[]; skipped: SkippedDelta[] }> {
  const made: PublishedDelta[] = [];
  const skipped: SkippedDelta[] = [];
  if (deps.delta.maxImageBytes <= 0) return { made, skipped };
  for (const full of fulls) {
    for (const base of await deltaBases(db, release, full.artifact, deps.delta.baseReleases)) {
      const skip = (reason: string) =>
        skipped.push({ artifact: full.artifact.name, baseVersion: base.version, reason });
      let result: Awaited<ReturnType<typeof makeDelta>>;
      try {
        result = await makeDelta(deps.artifacts, base.artifact, full.artifact, deps.delta.maxImageBytes);
      } catch (error) {
        skip(`computing the delta failed: ${(error as Error).message}`);
        continue;
      }
      if ("skipped" in result) {
        skip(result.skipped);
        continue;
      }
      const stored = result.delta;
      const path = deltaTargetPath(full.path, base.artifact.sha256);
      made.push({
        path,
        target: deltaTarget(full, base, stored),
        row: {
          ...stored,
          id: randomUUID(),
          releaseId: release.id,
          artifactName: full.artifact.name,
          name: path.split("/").at(-1)!,
          baseReleaseId: base.releaseId,
          baseSha256: base.artifact.sha256,
          format: DELTA_FORMAT,
        },
      });
    }
  }
  return { made, skipped };
}

export async function insertDelta(db: Queryable, d: ArtifactDelta): Promise<void> {
  await db.run(
    `INSERT INTO artifact_deltas (id, release_id, artifact_name, name, base_release_id, base_sha256, format,
       length, sha256, sha512, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      d.id,
      d.releaseId,
      d.artifactName,
      d.name,
      d.baseReleaseId,
      d.baseSha256,
      d.format,
      d.length,
      d.sha256,
      d.sha512,
      Date.now(),
    ],
  );
}

interface DeltaRow {
  id: string;
  release_id: string;
  artifact_name: string;
  name: string;
  base_release_id: string;
  base_sha256: string;
  format: typeof DELTA_FORMAT;
  length: number | string;
  sha256: string;
  sha512: string;
}

const toDelta = (r: DeltaRow): ArtifactDelta => ({
  id: r.id,
  releaseId: r.release_id,
  artifactName: r.artifact_name,
  name: r.name,
  baseReleaseId: r.base_release_id,
  baseSha256: r.base_sha256,
  format: r.format,
  length: Number(r.length),
  sha256: r.sha256,
  sha512: r.sha512,
});

export async function deltasOf(db: Queryable, releaseId: string): Promise<ArtifactDelta[]> {
  const rows = await db.all<DeltaRow>(`SELECT * FROM artifact_deltas WHERE release_id = ? ORDER BY name`, [
    releaseId,
  ]);
  return rows.map(toDelta);
}

/** A delta of one of `productId`'s releases under its target file name `{sha256|sha512}.{name}` (TUF spec §5.7.3). */
export async function deltaByTargetFile(
  db: Queryable,
  productId: string,
  fileName: string,
): Promise<ArtifactDelta | undefined> {
  const match = /^([0-9a-f]{64}|[0-9a-f]{128})\.(.+)$/.exec(fileName);
  if (!match) return undefined;
  const [, digest, name] = match;
  const column = digest!.length === 64 ? "sha256" : "sha512";
  const row = await db.get<DeltaRow>(
    `SELECT d.* FROM artifact_deltas d JOIN releases r ON r.id = d.release_id
     WHERE r.product_id = ? AND d.${column} = ? AND d.name = ?`,
    [productId, digest!, name!],
  );
  return row && toDelta(row);
}
