import assert from "node:assert/strict";
import { httpsRequest } from "../packages/sdk/src/https.ts";
import { httpFetcher, memoryStore, TufUpdater } from "../packages/sdk/src/tuf/index.ts";
import type { JobNotify } from "../packages/sdk/src/wire/jobs.ts";
import type { Queryable } from "../packages/server/src/store/store.ts";
import { type EnrolledDevice, enrolDirect } from "./enrol-helpers.ts";
import { createToken, type TestServer } from "./helpers.ts";

/** A product with one release, ready for artifacts (issue #15 tests). */
export async function productWithRelease(
  server: TestServer,
  name: string,
  version = "1.0.0",
  classification: "security" | "feature" = "feature",
): Promise<{ productId: string; releaseId: string }> {
  const product = await server.api<{ id: string }>("POST", "/api/v1/products", { name });
  if (product.status !== 201) throw new Error(`product create failed: ${JSON.stringify(product.body)}`);
  const releaseId = await createRelease(server, product.body.id, version, classification);
  return { productId: product.body.id, releaseId };
}

export async function createRelease(
  server: TestServer,
  productId: string,
  version: string,
  classification: "security" | "feature" = "feature",
): Promise<string> {
  const release = await server.api<{ id: string }>("POST", `/api/v1/products/${productId}/releases`, {
    version,
    classification,
  });
  if (release.status !== 201) throw new Error(`release create failed: ${JSON.stringify(release.body)}`);
  return release.body.id;
}

/** An enrolled device recorded as one of `productId`'s devices. */
export async function productDevice(
  server: TestServer,
  productId: string,
  group = "default",
): Promise<EnrolledDevice> {
  const device = await enrolDirect(server, await createToken(server, group));
  const set = await server.api("PATCH", `/api/v1/devices/${device.deviceId}`, { product: productId });
  if (set.status !== 200) throw new Error(`device product not set: ${JSON.stringify(set.body)}`);
  return device;
}

export interface Uploaded {
  id: string;
  name: string;
  length: number;
  sha256: string;
  sha512: string;
}

/** Uploads `body` as a release artifact over the operator API. */
export async function uploadArtifact(
  server: TestServer,
  releaseId: string,
  name: string,
  body: Buffer,
  kind: "binary" | "config" = "binary",
) {
  return server.api<Uploaded & { code?: string }>(
    "POST",
    `/api/v1/releases/${releaseId}/artifacts?name=${encodeURIComponent(name)}&kind=${kind}`,
    body,
    { "content-type": "application/octet-stream" },
  );
}

/** A GET as the device: mutual TLS with its certificate chain (or none). */
export function deviceGet(
  server: TestServer,
  device: EnrolledDevice | undefined,
  path: string,
  headers: Record<string, string> = {},
) {
  return httpsRequest({
    url: new URL(path, server.httpUrl).href,
    ca: server.rootPem,
    cert: device?.certChainPem,
    key: device?.keyPem,
    headers,
  });
}

/** Uploads one artifact and publishes the release (with an advisory when it is a security release). */
export async function publishedRelease(
  server: TestServer,
  productId: string,
  version: string,
  options: { classification?: "security" | "feature"; hardware?: string[] } = {},
): Promise<string> {
  const releaseId = await createRelease(server, productId, version, options.classification ?? "feature");
  await uploadArtifact(server, releaseId, "image.bin", Buffer.from(`image ${version}`));
  await server.api("PUT", `/api/v1/releases/${releaseId}/update`, {
    hardware: options.hardware ?? [],
    ...(options.classification === "security"
      ? { advisory: { summary: `fixes in ${version}`, severity: "high", cves: [], action: "none" } }
      : {}),
  });
  const published = await server.api("POST", `/api/v1/releases/${releaseId}/publish`);
  if (published.status !== 200) throw new Error(`publish failed: ${JSON.stringify(published.body)}`);
  return releaseId;
}

/**
 * A job announcement as the server sends it (`bw/v1/d/{id}/jobs/...`): a feature release of the
 * firmware component, installed at once; `extra` overrides any field (a forged or special job).
 */
export function updateNote(
  productId: string,
  path: string,
  version: string,
  extra: Partial<JobNotify> = {},
): JobNotify {
  return {
    type: "update",
    jobId: `job-${Math.random().toString(36).slice(2)}`,
    deploymentId: "d",
    productId,
    state: "notified",
    targets: [{ path, artifact: "binary" }],
    component: "firmware",
    version,
    kind: "feature",
    mandatory: false,
    maxDeferralSeconds: 0,
    window: null,
    network: { metered: "allow" },
    rollback: false,
    issuedAt: Date.now(),
    ...extra,
  };
}

/**
 * The stored record of a rollout that ran to its end: one job per device, each job's transitions
 * every state once, in order. Returns each device's job id.
 */
export async function assertEveryTransitionOnce(
  store: Pick<Queryable, "all">,
  deploymentId: string,
  devices: number,
): Promise<Map<string, string>> {
  const jobs = await store.all<{ id: string; device_id: string }>(
    `SELECT id, device_id FROM deployment_jobs WHERE deployment_id = ?`,
    [deploymentId],
  );
  assert.equal(jobs.length, devices);
  const jobOf = new Map(jobs.map((j) => [j.device_id, j.id]));
  assert.equal(jobOf.size, devices, "one job per device");
  const events = await store.all<{ job_id: string; to_state: string }>(
    `SELECT job_id, to_state FROM deployment_job_events WHERE deployment_id = ? ORDER BY job_id, seq`,
    [deploymentId],
  );
  const byJob = new Map<string, string[]>();
  for (const e of events) byJob.set(e.job_id, [...(byJob.get(e.job_id) ?? []), e.to_state]);
  const order = ["queued", "notified", "downloading", "verifying", "installing", "succeeded"];
  for (const job of jobs)
    assert.deepEqual(byJob.get(job.id), order, `every transition stored once, in order (job ${job.id})`);
  return jobOf;
}

/**
 * The SDK's TUF client as `device` of `productId` runs it (hybrid policy, mutual TLS with its
 * certificate), bootstrapped from root 1 as served to the device, and refreshed (TUF spec §5).
 */
export async function deviceTufClient(
  server: TestServer,
  device: EnrolledDevice,
  productId: string,
): Promise<TufUpdater> {
  const base = `${server.httpUrl}/tuf/${productId}`;
  const root = await deviceGet(server, device, `/tuf/${productId}/1.root.json`);
  const client = new TufUpdater({
    fetcher: httpFetcher({
      metadataBaseUrl: `${base}/`,
      targetBaseUrl: `${base}/targets/`,
      ca: server.rootPem,
      cert: device.certChainPem,
      key: device.keyPem,
    }),
    store: memoryStore(),
    bootstrapRoot: root.body,
    policy: "hybrid",
  });
  await client.refresh();
  return client;
}
