import { randomUUID } from "node:crypto";
import type { TargetFile } from "@bulwark/sdk/tuf";
import {
  type DeltaCustom,
  type DeltaFormat,
  deltaTargetPath,
  SEGMENTED_DELTA,
  SEGMENTED_DELTA_FORMAT,
  segmentCount,
  zstdDeltaParams,
} from "@bulwark/sdk/wire/delta";
import type { Queryable } from "../store/store.ts";
import type { ArtifactStore, StoredObject } from "./artifact-store.ts";
import type { Artifact } from "./artifacts.ts";
import { deltaFormatFor, makeDelta } from "./delta-compress.ts";
import { type ArtifactDelta, type DeltaBase, deltaBases } from "./delta-queries.ts";
import { segmentedLayout } from "./delta-segmented.ts";

/**
 * Server settings of delta generation (`--delta-max-image-bytes`, `--delta-max-segmented-bytes`,
 * `--delta-base-releases`).
 */
export interface DeltaConfig {
  /** Largest base or new image a `zstd-dict` delta is made for (0: none); at most `DELTA_LIMITS.maxImageBytes`. */
  maxImageBytes: number;
  /** Largest base or new image a `zstd-seg` delta is made for, above the cap above (0: none). */
  maxSegmentedImageBytes: number;
  /** How many of the previous published releases of the component serve as bases (default 1). */
  baseReleases: number;
}

export const DEFAULT_DELTA_CONFIG: DeltaConfig = {
  maxImageBytes: 32 * 1024 * 1024,
  maxSegmentedImageBytes: 1024 * 1024 * 1024,
  baseReleases: 1,
};

export interface DeltaDeps {
  artifacts: ArtifactStore;
  delta: DeltaConfig;
  /** Called once a publish that left deltas to the background committed (`delta-jobs.ts`). */
  wakeDeltaJobs?: () => void;
}

/** The delta's TUF target (TUF spec §4.5: length and hashes, like any target; Bulwark's custom fields). */
export function deltaTarget(
  full: { path: string; target: TargetFile },
  base: DeltaBase,
  delta: StoredObject,
  format: DeltaFormat,
): TargetFile {
  const common = {
    base: { sha256: base.artifact.sha256, length: base.artifact.length, version: base.version },
    target: { path: full.path, length: full.target.length, sha256: full.target.hashes.sha256! },
  };
  let custom: DeltaCustom;
  if (format === SEGMENTED_DELTA_FORMAT) {
    const { segmentBytes, referenceBytes, windowLog } = segmentedLayout(base.artifact.length);
    custom = { format, ...common, windowLog, segmentBytes, referenceBytes };
  } else {
    const { windowLog } = zstdDeltaParams(base.artifact.length, full.target.length);
    custom = { format, ...common, windowLog };
  }
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

/** A delta left to the background (`delta-jobs.ts`): a `zstd-seg` one, minutes for a large image. */
export interface PendingDelta {
  artifact: string;
  baseReleaseId: string;
  baseVersion: string;
  baseSha256: string;
  format: DeltaFormat;
  /** Its segments: the job's progress counts them. */
  segments: number;
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
 * `zstd-dict` deltas (images up to 64 MiB) are computed here, inside the publish (under a second
 * for 32 MiB, docs/benchmarks.md); `zstd-seg` ones (images up to GiBs, ~1–3 s per 8 MiB segment)
 * are returned as `pending`, for the background job (`delta-jobs.ts`), so the publish does not wait.
 */
export async function buildDeltas(
  db: Queryable,
  deps: DeltaDeps,
  release: { id: string; productId: string; component: string },
  fulls: { artifact: Artifact; path: string; target: TargetFile }[],
): Promise<{ made: PublishedDelta[]; skipped: SkippedDelta[]; pending: PendingDelta[] }> {
  const made: PublishedDelta[] = [];
  const skipped: SkippedDelta[] = [];
  const pending: PendingDelta[] = [];
  if (deps.delta.maxImageBytes <= 0) return { made, skipped, pending };
  for (const full of fulls) {
    for (const base of await deltaBases(db, release, full.artifact, deps.delta.baseReleases)) {
      const skip = (reason: string) =>
        skipped.push({ artifact: full.artifact.name, baseVersion: base.version, reason });
      const format = deltaFormatFor(base.artifact, full.artifact, deps.delta);
      if (format === SEGMENTED_DELTA_FORMAT) {
        pending.push({
          artifact: full.artifact.name,
          baseReleaseId: base.releaseId,
          baseVersion: base.version,
          baseSha256: base.artifact.sha256,
          format,
          segments: segmentCount(full.artifact.length, SEGMENTED_DELTA.segmentBytes),
        });
        continue;
      }
      let result: Awaited<ReturnType<typeof makeDelta>>;
      try {
        result = await makeDelta(deps.artifacts, base.artifact, full.artifact, deps.delta);
      } catch (error) {
        skip(`computing the delta failed: ${(error as Error).message}`);
        continue;
      }
      if ("skipped" in result) {
        skip(result.skipped);
        continue;
      }
      made.push(publishedDelta(release, full, base, result.delta, result.format));
    }
  }
  return { made, skipped, pending };
}

/** A computed delta's target and `artifact_deltas` row (at publish, or by the background job). */
export function publishedDelta(
  release: { id: string },
  full: { artifact: Pick<Artifact, "name">; path: string; target: TargetFile },
  base: DeltaBase,
  stored: StoredObject,
  format: DeltaFormat,
): PublishedDelta {
  const path = deltaTargetPath(full.path, base.artifact.sha256);
  return {
    path,
    target: deltaTarget(full, base, stored, format),
    row: {
      ...stored,
      id: randomUUID(),
      releaseId: release.id,
      artifactName: full.artifact.name,
      name: path.split("/").at(-1)!,
      baseReleaseId: base.releaseId,
      baseSha256: base.artifact.sha256,
      format,
    },
  };
}
