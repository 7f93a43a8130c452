import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import type { CertificateAuthority } from "../pki/ca.ts";
import type { Store } from "../store/store.ts";
import { artifactRoutes } from "./artifact-routes.ts";
import { type ArtifactStore, FileArtifactStore } from "./artifact-store.ts";
import { releaseUpdateRoutes } from "./release-routes.ts";

export interface UpdatesDeps {
  store: Store;
  dataDir: string;
  /** The device-issuing CAs (device downloads are authenticated by their certificates). */
  deviceCas: () => CertificateAuthority[];
  /** Default: files under `{dataDir}/artifacts`. */
  artifacts?: ArtifactStore;
  /** Largest artifact accepted (default 4 GiB). */
  maxArtifactBytes?: number;
}

export const DEFAULT_MAX_ARTIFACT_BYTES = 4 * 1024 ** 3;

/** The updates domain (issue #15) as one encapsulated Fastify plugin. */
export function updatesPlugin(deps: UpdatesDeps) {
  const artifacts = deps.artifacts ?? new FileArtifactStore(join(deps.dataDir, "artifacts"));
  const maxArtifactBytes = deps.maxArtifactBytes ?? DEFAULT_MAX_ARTIFACT_BYTES;
  return async function updates(app: FastifyInstance): Promise<void> {
    await artifactRoutes(app, { ...deps, artifacts, maxArtifactBytes });
    await releaseUpdateRoutes(app, deps);
  };
}
