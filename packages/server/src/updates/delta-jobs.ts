import { randomUUID } from "node:crypto";
import { BulwarkError } from "@bulwark/sdk/errors";
import type { Logger } from "pino";
import { appendAudit } from "../audit/audit-log.ts";
import { artifactsOf } from "./artifacts.ts";
import { type DeltaDeps, publishedDelta } from "./delta.ts";
import { makeDelta } from "./delta-compress.ts";
import {
  claimDeltaJob,
  type DeltaJob,
  deltaJobById,
  finishDeltaJob,
  giveUpDeltaJob,
  nextClaimableDeltaJob,
  releaseDeltaJob,
  renewDeltaJob,
} from "./delta-job-queries.ts";
import { insertDelta } from "./delta-queries.ts";
import { targetPath } from "./publish.ts";
import { updateRelease } from "./release-updates.ts";
import { type TufDeps, withRepository } from "./tuf-repository.ts";

export interface DeltaJobDeps extends TufDeps, DeltaDeps {
  log: Logger;
  /** How long a claim holds without renewal (default 60 s); renewed every third of it while computing. */
  leaseMs?: number;
}

/** A job claimed this many times without ending (each time its process died) is failed, not restarted. */
export const MAX_DELTA_ATTEMPTS = 3;

/** The claim was lost (its lease ran out and another process took the job over, or it ended). */
class ClaimLost extends Error {}

/**
 * Computes the deltas publishing left to the background (issue #15 item 10: `zstd-seg` deltas of
 * images up to GiBs take minutes), one at a time per process, on the compressor's worker threads
 * (`delta-compress.ts`), then signs each into its component's role in a new targets version with a
 * new snapshot and timestamp (TUF spec §6.3), as a publish does, under the product's lock.
 *
 * Durable and exactly once in effect: a job is a row (`delta_jobs`, migration 985) claimed with a
 * conditional UPDATE and a lease the computing process renews (with its progress); a process that
 * dies leaves the claim to run out and any process (the restarted one, another over PostgreSQL)
 * claims the job again and computes it from the start. Its end — the signed target, the
 * `artifact_deltas` row and the job's `ready` — commits in one transaction only while the claim is
 * still this process's, so two computations of one job (a stalled process whose lease ran out)
 * sign one target. The delta's bytes are stored content-addressed: a computation cut off leaves
 * at most an unreferenced object, and a repeated one the same object. With SQLite one process uses
 * the store, so a restarted server takes up a computation claimed before it died at once.
 */
export class DeltaJobRunner {
  /** This process's claims (a new one each start: a restarted process does not own its old claims). */
  readonly owner = randomUUID();
  readonly #deps: DeltaJobDeps;
  readonly #leaseMs: number;
  readonly #abort = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;

  constructor(deps: DeltaJobDeps) {
    this.#deps = deps;
    this.#leaseMs = deps.leaseMs ?? 60_000;
  }

  /** Looks for work every `intervalMs` (and at once on `wake`). */
  start(intervalMs: number): void {
    this.#timer = setInterval(() => this.wake(), intervalMs);
    this.#timer.unref();
    this.wake();
  }

  /** Runs the queue now (or once more after the run under way). */
  wake(): void {
    if (this.#abort.signal.aborted) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.drain()
      .catch((error: unknown) => this.#deps.log.error({ err: error }, "delta jobs failed"))
      .finally(() => {
        this.#running = undefined;
        if (this.#again) {
          this.#again = false;
          this.wake();
        }
      });
  }

  /** Stops: the computation under way ends before its next segment and its job goes back to `pending`. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#abort.abort(new Error("the server is stopping"));
    await this.#running;
  }

  /** Computes claimable jobs until none is left (or the runner stops). */
  async drain(): Promise<void> {
    while (!this.#abort.signal.aborted && (await this.runOne())) {}
  }

  /** Claims and computes one job; false when there was none to claim. */
  async runOne(): Promise<boolean> {
    const { store } = this.#deps;
    const single = store.dialect === "sqlite";
    for (;;) {
      const id = await nextClaimableDeltaJob(store, this.owner, Date.now(), single);
      if (!id) return false;
      // Lost to another process between the read and the claim: look again.
      if (!(await claimDeltaJob(store, id, this.owner, Date.now(), this.#leaseMs, single))) continue;
      const job = (await deltaJobById(store, id))!;
      await this.#compute(job);
      return true;
    }
  }

  async #compute(job: DeltaJob): Promise<void> {
    const { store, log } = this.#deps;
    if (job.attempts > MAX_DELTA_ATTEMPTS) {
      const reason = `started ${MAX_DELTA_ATTEMPTS} times without finishing (each computing process stopped mid-way)`;
      await store.transaction(async (tx) => {
        if (!(await giveUpDeltaJob(tx, job.id, reason))) return;
        await appendAudit(tx, {
          actor: { type: "system" },
          action: "release.delta.fail",
          target: { type: "release", id: job.releaseId },
          outcome: "failure",
          details: {
            artifact: job.artifactName,
            baseVersion: job.baseVersion,
            reason,
            attempt: job.attempts,
          },
        });
      });
      log.error({ deltaJob: job.id, releaseId: job.releaseId }, `delta job failed: ${reason}`);
      return;
    }
    log.info(
      { deltaJob: job.id, releaseId: job.releaseId, artifact: job.artifactName, attempt: job.attempts },
      "delta job claimed",
    );
    // The claim is renewed on a timer (a segment can take longer than the lease under load) and
    // after each segment (with the progress); a renewal that finds the claim gone stops the work.
    const lost = new AbortController();
    const signal = AbortSignal.any([lost.signal, this.#abort.signal]);
    const renew = async (done?: number) => {
      if (!(await renewDeltaJob(store, job.id, this.owner, Date.now(), this.#leaseMs, done)))
        lost.abort(new ClaimLost("the claim on the delta job was lost"));
    };
    const heartbeat = setInterval(
      () => void renew().catch((error: unknown) => log.warn({ err: error }, "delta job lease not renewed")),
      Math.max(Math.floor(this.#leaseMs / 3), 10),
    );
    try {
      const end = await this.#computeAndSign(job, signal, renew);
      log.info({ deltaJob: job.id, releaseId: job.releaseId, state: end }, "delta job done");
    } catch (error) {
      if (signal.aborted) {
        // Stopping (not a lost claim): the job goes back to the queue for the next start, or another process.
        if (this.#abort.signal.aborted) await releaseDeltaJob(store, job.id, this.owner).catch(() => false);
        log.warn({ deltaJob: job.id, reason: (signal.reason as Error).message }, "delta job stopped");
        return;
      }
      if (error instanceof ClaimLost) {
        log.warn({ deltaJob: job.id }, "delta job taken over by another process");
        return;
      }
      const reason = `computing the delta failed: ${(error as Error).message}`;
      await this.#end(job, { state: "failed", reason });
      log.error({ deltaJob: job.id, err: error }, "delta job failed");
    } finally {
      clearInterval(heartbeat);
    }
  }

  /** Ends a job without a delta (skipped, failed), audited with the reason; false when the claim was lost. */
  async #end(job: DeltaJob, end: { state: "skipped" | "failed"; reason: string }): Promise<boolean> {
    return this.#deps.store.transaction(async (tx) => {
      if (!(await finishDeltaJob(tx, job.id, this.owner, end))) return false;
      await appendAudit(tx, {
        actor: { type: "system" },
        action: `release.delta.${end.state === "failed" ? "fail" : "skip"}`,
        target: { type: "release", id: job.releaseId },
        outcome: end.state === "failed" ? "failure" : "success",
        details: {
          artifact: job.artifactName,
          baseVersion: job.baseVersion,
          reason: end.reason,
          attempt: job.attempts,
        },
      });
      return true;
    });
  }

  async #computeAndSign(
    job: DeltaJob,
    signal: AbortSignal,
    renew: (done?: number) => Promise<void>,
  ): Promise<"ready" | "skipped"> {
    const deps = this.#deps;
    const release = await updateRelease(deps.store, job.releaseId);
    const full = (await artifactsOf(deps.store, job.releaseId)).find((a) => a.name === job.artifactName);
    const base = (await artifactsOf(deps.store, job.baseReleaseId)).find(
      (a) => a.name === job.artifactName && a.sha256 === job.baseSha256,
    );
    if (!full || !base)
      throw new BulwarkError("BW_ERR_NOT_FOUND", "the release's or the base's artifact is no longer stored");
    const result = await makeDelta(deps.artifacts, base, full, deps.delta, {
      signal,
      onSegment: async (done) => {
        await renew(done);
        signal.throwIfAborted();
      },
    });
    signal.throwIfAborted();
    if ("skipped" in result) {
      if (!(await this.#end(job, { state: "skipped", reason: result.skipped }))) throw new ClaimLost();
      return "skipped";
    }
    await withRepository(deps, job.productId, async (ctx) => {
      const path = targetPath(release.component, release.version, full.name);
      // The full target as signed at publish: the delta target carries its custom fields.
      const target = ctx.repo.targets(release.component)?.targets[path];
      if (!target) throw new BulwarkError("BW_ERR_NOT_FOUND", `the release's target ${path} is not signed`);
      const made = publishedDelta(
        release,
        { artifact: full, path, target },
        { releaseId: job.baseReleaseId, version: job.baseVersion, artifact: base },
        result.delta,
        result.format,
      );
      ctx.repo.setTarget(made.path, made.target, release.component);
      await ctx.repo.publish(ctx.signers);
      return {
        result: undefined,
        change: {
          also: async (tx) => {
            // Only while the claim is still ours: otherwise the whole transaction (the signed
            // metadata too) rolls back, and the process that holds the claim signs it.
            if (!(await finishDeltaJob(tx, job.id, this.owner, { state: "ready", deltaId: made.row.id })))
              throw new ClaimLost("the claim on the delta job was lost");
            await insertDelta(tx, made.row);
          },
          audit: {
            actor: { type: "system" },
            action: "release.delta.publish",
            target: { type: "release", id: job.releaseId },
            outcome: "success",
            details: {
              delta: made.path,
              format: made.row.format,
              length: made.row.length,
              baseVersion: job.baseVersion,
              attempt: job.attempts,
            },
          },
        },
      };
    });
    return "ready";
  }
}
