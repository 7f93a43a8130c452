import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { KeyCustody } from "../custody/key-custody.ts";
import type { CertificateAuthority } from "../pki/ca.ts";
import type { Store } from "../store/store.ts";
import { artifactRoutes } from "./artifact-routes.ts";
import { type ArtifactStore, FileArtifactStore } from "./artifact-store.ts";
import { DEFAULT_DELTA_CONFIG, type DeltaConfig } from "./delta.ts";
import { DeltaJobRunner } from "./delta-jobs.ts";
import { deploymentRoutes } from "./deployment-routes.ts";
import type { UpdateJobs } from "./jobs-service.ts";
import { productUpdateRoutes } from "./product-update-routes.ts";
import { releaseUpdateRoutes } from "./release-routes.ts";
import { sweepRetiredTufKeys } from "./tuf-key-sweep.ts";
import { startRefresh } from "./tuf-refresh.ts";
import { tufRoutes } from "./tuf-routes.ts";

export interface UpdatesDeps {
  store: Store;
  /** Holds the TUF keys of every product's repository, sealed under the master key. */
  custody: KeyCustody;
  /** From the composition root: where artifacts live and how large one may be. */
  config: { dataDir: string; maxArtifactBytes: number; delta?: DeltaConfig };
  /** The server's CAs: device downloads are authenticated by certificates of its device CAs. */
  cas: () => CertificateAuthority[];
  log: Logger;
  /** Default: files under `{dataDir}/artifacts`. */
  artifacts?: ArtifactStore;
  /** The update jobs' runtime, built before the broker (it takes the broker's job hooks). */
  jobs: UpdateJobs;
  /** How often running deployments are advanced (default 1 s). */
  rolloutIntervalMs?: number;
  /** How often repositories are checked for metadata near expiry (default 10 minutes). */
  refreshIntervalMs?: number;
  /** How often the background delta jobs are looked for (default 5 s; a publish wakes them at once). */
  deltaJobIntervalMs?: number;
  /** How long a delta job's claim holds unrenewed (default 60 s; `delta-jobs.ts`). */
  deltaJobLeaseMs?: number;
}

/** The updates domain (issue #15) as one encapsulated Fastify plugin. */
export function updatesPlugin(deps: UpdatesDeps) {
  const base = {
    store: deps.store,
    custody: deps.custody,
    artifacts: deps.artifacts ?? new FileArtifactStore(join(deps.config.dataDir, "artifacts")),
    delta: deps.config.delta ?? DEFAULT_DELTA_CONFIG,
  };
  // Segmented deltas are computed after publish (issue #15 item 10), durably, on any process.
  const deltaJobs = new DeltaJobRunner({ ...base, log: deps.log, leaseMs: deps.deltaJobLeaseMs });
  const shared = {
    ...base,
    deviceCas: () => deps.cas().filter((ca) => ca.role === "device"),
    maxArtifactBytes: deps.config.maxArtifactBytes,
    wakeDeltaJobs: () => deltaJobs.wake(),
  };
  return async function updates(app: FastifyInstance): Promise<void> {
    await artifactRoutes(app, shared);
    await releaseUpdateRoutes(app, shared);
    await productUpdateRoutes(app, shared);
    await tufRoutes(app, shared);
    // Before the server serves: TUF custody keys a stopped process left unnamed (tuf-key-sweep.ts).
    await sweepRetiredTufKeys(shared, deps.log).catch((error: unknown) =>
      deps.log.error({ err: error }, "sweep of retired TUF custody keys failed; the next start tries again"),
    );
    await deploymentRoutes(app, { store: deps.store, jobs: deps.jobs });
    deps.jobs.start(deps.rolloutIntervalMs ?? 1000);
    app.addHook("onClose", () => deps.jobs.stop());
    const stopRefresh = startRefresh(shared, deps.log, deps.refreshIntervalMs ?? 10 * 60 * 1000);
    app.addHook("onClose", async () => stopRefresh());
    deltaJobs.start(deps.deltaJobIntervalMs ?? 5000);
    app.addHook("onClose", () => deltaJobs.stop());
  };
}
