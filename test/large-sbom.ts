/** A large CycloneDX 1.6 SBOM and /healthz probing while it uploads (test and benchmark share it). */
import type { TestServer } from "./helpers.ts";

/** `n` npm components, each with a hash, a licence and a dependencies entry (what real tools emit). */
export function largeCycloneDx(n: number): string {
  const components = Array.from({ length: n }, (_, i) => ({
    type: "library",
    "bom-ref": `pkg:npm/bulwark-large-${i}@1.0.${i % 10}`,
    name: `bulwark-large-${i}`,
    version: `1.0.${i % 10}`,
    purl: `pkg:npm/bulwark-large-${i}@1.0.${i % 10}`,
    hashes: [{ alg: "SHA-256", content: i.toString(16).padStart(64, "0") }],
    licenses: [{ license: { id: "MIT" } }],
  }));
  return JSON.stringify({
    bomFormat: "CycloneDX",
    specVersion: "1.6",
    version: 1,
    metadata: { component: { type: "application", "bom-ref": "root", name: "large" } },
    components,
    dependencies: [
      { ref: "root", dependsOn: components.map((c) => c["bom-ref"]) },
      ...components.map((c) => ({ ref: c["bom-ref"], dependsOn: [] })),
    ],
  });
}

async function probe(server: TestServer): Promise<number> {
  const started = performance.now();
  const res = await server.api("GET", "/healthz");
  if (res.status !== 200) throw new Error(`/healthz answered ${res.status}`);
  return performance.now() - started;
}

export interface UploadUnderProbe {
  status: number;
  body: unknown;
  uploadMs: number;
  /** /healthz latencies at rest, before the upload. */
  rest: number[];
  /** /healthz latencies of the probes sent while the upload was under way (answered during or after it). */
  during: number[];
}

/** Probes /healthz at rest, then uploads the SBOM while probing it back to back until the upload ends. */
export async function uploadWhileProbing(
  server: TestServer,
  releaseId: string,
  sbom: string,
  restProbes = 20,
): Promise<UploadUnderProbe> {
  const rest: number[] = [];
  for (let i = 0; i < restProbes; i++) rest.push(await probe(server));
  const during: number[] = [];
  let finished = false;
  const started = performance.now();
  const upload = server.api("POST", `/api/v1/releases/${releaseId}/sboms`, sbom).finally(() => {
    finished = true;
  });
  // Every probe sent before the upload ended counts, the one a stall holds up until the end too.
  while (!finished) during.push(await probe(server));
  const res = await upload;
  return { status: res.status, body: res.body, uploadMs: performance.now() - started, rest, during };
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))] ?? Number.NaN;
}
