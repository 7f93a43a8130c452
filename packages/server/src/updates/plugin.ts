import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { KeyCustody } from "../custody/key-custody.ts";
import type { CertificateAuthority } from "../pki/ca.ts";
import type { Store } from "../store/store.ts";
import { artifactRoutes } from "./artifact-routes.ts";
import { type ArtifactStore, FileArtifactStore } from "./artifact-store.ts";
import { DEFAULT_DELTA_CONFIG, type DeltaConfig } from "./delta.ts";
import { deploymentRoutes } from "./deployment-routes.ts";
import type { UpdateJobs } from "./jobs-service.ts";
import { productUpdateRoutes } from "./product-update-routes.ts";
import { releaseUpdateRoutes } from "./release-routes.ts";
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
}

/** The updates domain (issue #15) as one encapsulated Fastify plugin. */
export function updatesPlugin(deps: UpdatesDeps) {
  const shared = {
    store: deps.store,
    custody: deps.custody,
    deviceCas: () => deps.cas().filter((ca) => ca.role === "device"),
    artifacts: deps.artifacts ?? new FileArtifactStore(join(deps.config.dataDir, "artifacts")),
    maxArtifactBytes: deps.config.maxArtifactBytes,
    delta: deps.config.delta ?? DEFAULT_DELTA_CONFIG,
  };
  return async function updates(app: FastifyInstance): Promise<void> {
    await artifactRoutes(app, shared);
    await releaseUpdateRoutes(app, shared);
    await productUpdateRoutes(app, shared);
    await tufRoutes(app, shared);
    await deploymentRoutes(app, { store: deps.store, jobs: deps.jobs });
    deps.jobs.start(deps.rolloutIntervalMs ?? 1000);
    app.addHook("onClose", () => deps.jobs.stop());
    const stopRefresh = startRefresh(shared, deps.log, deps.refreshIntervalMs ?? 10 * 60 * 1000);
    app.addHook("onClose", async () => stopRefresh());
  };
}
