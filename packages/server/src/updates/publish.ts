import { randomUUID } from "node:crypto";
import { BulwarkError } from "@bulwark/sdk/errors";
import type { TargetFile } from "@bulwark/sdk/tuf";
import type { DeltaFormat } from "@bulwark/sdk/wire/delta";
import type { AuditEntry } from "../audit/audit-log.ts";
import { counterAtPublish } from "./anti-rollback.ts";
import { type Artifact, artifactsOf } from "./artifacts.ts";
import { buildDeltas, type DeltaDeps, type PendingDelta, type SkippedDelta } from "./delta.ts";
import { insertDeltaJob } from "./delta-job-queries.ts";
import { insertDelta } from "./delta-queries.ts";
import { releaseById } from "./products.ts";
import {
  assertVersionIncreases,
  markPublished,
  type ReleaseUpdate,
  updateRelease,
} from "./release-updates.ts";
import { generateSignerPair, roleSigners, tufKeysOf } from "./tuf-keys.ts";
import { type RepositoryContext, type TufDeps, withRepository } from "./tuf-repository.ts";

export interface PublishedRelease {
  releaseId: string;
  productId: string;
  component: string;
  targets: string[];
  /** Delta targets published beside the full ones (issue #15 item 10), with their base's SHA-256. */
  deltas: {
    path: string;
    length: number;
    sha256: string;
    fullLength: number;
    baseSha256: string;
    /** `zstd-dict` or `zstd-seg` (`@bulwark/sdk/wire/delta`). */
    format: DeltaFormat;
  }[];
  /** Deltas not made (over the cap, no smaller than the full image, or failed), with the reason. */
  deltasSkipped: SkippedDelta[];
  /**
   * Deltas left to the background (`zstd-seg`, `delta-jobs.ts`), each with its job's id: signed
   * into a later targets version once computed (`GET /api/v1/releases/{id}/deltas`).
   */
  deltasPending: (PendingDelta & { jobId: string })[];
  snapshotVersion: number;
}

/** A release artifact's TUF target path: `{component}/{version}/{name}` (TUF spec §4.5 TARGETPATH). */
export const targetPath = (component: string, version: string, name: string) =>
  `${component}/${version}/${name}`;

type Publishable = Awaited<ReturnType<typeof updateRelease>>;

/** Step 1: what publishing needs (CRA Annex I Part II (2): a security release carries its advisory). */
async function checkPublishable(deps: TufDeps, release: Publishable, artifacts: Artifact[]): Promise<void> {
  if (release.publishedAt) throw new BulwarkError("BW_ERR_CONFLICT", "the release is already published");
  if (artifacts.length === 0)
    throw new BulwarkError("BW_ERR_RELEASE_NOT_PUBLISHABLE", "upload at least one artifact first");
  if (release.classification === "security" && !release.advisory)
    throw new BulwarkError(
      "BW_ERR_RELEASE_NOT_PUBLISHABLE",
      "a security release needs an advisory (bulwark release update --advisory-file)",
    );
  await assertVersionIncreases(deps.store, release);
}

/** Step 2: the component's delegated role (TUF spec §4.5), signed by its own hybrid pair in custody. */
async function componentRole(ctx: RepositoryContext, component: string): Promise<Record<string, string[]>> {
  const components = { ...ctx.row.roleKeys.components };
  if (components[component]) return components;
  components[component] = await generateSignerPair(ctx.deps.custody, `tuf:${ctx.row.productId}:${component}`);
  ctx.repo.delegate({
    name: component,
    keys: await tufKeysOf(ctx.deps.custody, components[component]),
    threshold: 1,
    // `*` never matches "/" (§5.6.7.1 as tuf-js does): component/version/name.
    paths: [`${component}/*/*`],
    terminating: true,
  });
  return components;
}

/** Step 3: the target entry with Bulwark's custom fields (docs/tuf.md). */
function targetOf(release: Publishable & ReleaseUpdate, artifact: Artifact, counter: number): TargetFile {
  return {
    length: artifact.length,
    hashes: { sha256: artifact.sha256, sha512: artifact.sha512 },
    custom: {
      version: release.version,
      kind: release.classification,
      ...(release.advisory
        ? {
            advisory: release.advisory.summary,
            severity: release.advisory.severity,
            cves: release.advisory.cves,
            action: release.advisory.action,
          }
        : {}),
      hardware: release.hardware,
      component: release.component,
      releaseId: release.id,
      artifact: artifact.kind,
      // TUF spec §4.5 custom: the anti-rollback counter (anti-rollback.ts), covered by the role's
      // signature, so the device enforces the same floor as the server (docs/updates.md).
      antiRollbackCounter: counter,
    },
  };
}

/**
 * `bulwark release publish`: puts the release's artifacts into its product's TUF repository as
 * targets of the component's delegated role, signs targets, snapshot and timestamp (TUF spec
 * §6.3) and marks the release published, all or nothing. With `delta`, also a delta target from
 * each base the configuration names (`delta.ts`), signed in the same targets version — or, for
 * `zstd-seg` deltas, a background job each (`delta-jobs.ts`), committed with the publish, that
 * signs its delta into a later targets version.
 */
export async function publishRelease(
  deps: TufDeps,
  releaseId: string,
  actor: AuditEntry["actor"],
  delta?: DeltaDeps,
): Promise<PublishedRelease> {
  const found = await releaseById(deps.store, releaseId);
  if (!found) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such release");
  return withRepository(deps, found.productId, async (ctx) => {
    const release = await updateRelease(deps.store, releaseId);
    const artifacts = await artifactsOf(deps.store, releaseId);
    await checkPublishable(deps, release, artifacts);
    const components = await componentRole(ctx, release.component);
    const roleKeys = { ...ctx.row.roleKeys, components };
    const signers = ctx.signers[release.component] ? ctx.signers : await roleSigners(deps.custody, roleKeys);
    const targets = artifacts.map((a) => targetPath(release.component, release.version, a.name));
    const counter = await counterAtPublish(
      deps.store,
      release.productId,
      release.component,
      release.version,
      release.classification === "security",
    );
    const fulls = artifacts.map((a, i) => ({
      artifact: a,
      path: targets[i]!,
      target: targetOf(release, a, counter),
    }));
    for (const f of fulls) ctx.repo.setTarget(f.path, f.target, release.component);
    const {
      made: deltas,
      skipped,
      pending,
    } = delta ? await buildDeltas(deps.store, delta, release, fulls) : { made: [], skipped: [], pending: [] };
    const deltasPending = pending.map((p) => ({ ...p, jobId: randomUUID() }));
    for (const d of deltas) ctx.repo.setTarget(d.path, d.target, release.component);
    await ctx.repo.publish(signers);
    const snapshot = JSON.parse(ctx.repo.files().get("timestamp.json")!.toString()) as {
      signed: { meta: { "snapshot.json": { version: number } } };
    };
    const result: PublishedRelease = {
      releaseId,
      productId: release.productId,
      component: release.component,
      targets,
      deltas: deltas.map((d) => ({
        path: d.path,
        length: d.row.length,
        sha256: d.row.sha256,
        fullLength: fulls.find((f) => f.artifact.name === d.row.artifactName)!.artifact.length,
        baseSha256: d.row.baseSha256,
        format: d.row.format,
      })),
      deltasSkipped: skipped,
      deltasPending,
      snapshotVersion: snapshot.signed.meta["snapshot.json"].version,
    };
    return {
      result,
      change: {
        roleKeys,
        also: async (tx) => {
          await markPublished(tx, release);
          for (const d of deltas) await insertDelta(tx, d.row);
          for (const p of deltasPending)
            await insertDeltaJob(tx, {
              id: p.jobId,
              releaseId,
              productId: release.productId,
              artifactName: p.artifact,
              baseReleaseId: p.baseReleaseId,
              baseVersion: p.baseVersion,
              baseSha256: p.baseSha256,
              format: p.format,
              totalUnits: p.segments,
            });
        },
        // The background computation starts at once (on this process or, failing that, any other).
        afterCommit: async () => {
          if (deltasPending.length > 0) delta?.wakeDeltaJobs?.();
        },
        audit: {
          actor,
          action: "release.publish",
          target: { type: "release", id: releaseId },
          outcome: "success",
          details: {
            product: release.productId,
            version: release.version,
            component: release.component,
            targets,
            deltas: deltas.map((d) => d.path),
            ...(skipped.length > 0 ? { deltasSkipped: skipped } : {}),
            ...(deltasPending.length > 0
              ? {
                  deltasPending: deltasPending.map((p) => ({
                    artifact: p.artifact,
                    baseVersion: p.baseVersion,
                    jobId: p.jobId,
                  })),
                }
              : {}),
          },
        },
      },
    };
  });
}
