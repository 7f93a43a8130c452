import { createHash } from "node:crypto";
import type { DeviceMetadata } from "@bulwark/sdk/wire/metadata";
import type { Queryable } from "../store/store.ts";
import { belowFloor, type Guard } from "./anti-rollback.ts";
import { type DeltaNeed, unableDevices } from "./delta-capability.ts";
import type { DeploymentTarget } from "./deployment-spec.ts";
import type { Deployment } from "./deployments.ts";
import { productById } from "./products.ts";

export interface Eligibility {
  /** Device ids that may get a job, in the deployment's stable shuffled order (wave membership). */
  devices: string[];
  /** Targeted devices left out because the release does not fit their hardware revision. */
  incompatible: number;
  /** Targeted devices left out because the release is below their anti-rollback floor (anti-rollback.ts). */
  belowFloor: number;
  /**
   * Targeted devices whose agent cannot apply one of the release's delta formats
   * (`delta-capability.ts`): left out under `require`, counted (they take the full image) under `prefer`.
   */
  deltaUnsupported: number;
}

/** A targeted device as eligibility sees it. */
export interface FittingDevice {
  id: string;
  metadata: DeviceMetadata;
  /** The delta formats its agent advertised (null: none advertised). */
  deltaFormats: string[] | null;
}

interface Candidate {
  id: string;
  metadata: string;
  delta_formats: string | null;
  group_name: string;
}

function matchesTarget(target: DeploymentTarget, device: Candidate, metadata: DeviceMetadata): boolean {
  if ("group" in target) return device.group_name === target.group;
  if ("devices" in target) return target.devices.includes(device.id);
  const q = target.query;
  return (
    (q.group === undefined || device.group_name === q.group) &&
    (q.hardwareRevision === undefined || metadata.hardwareRevision === q.hardwareRevision) &&
    (q.model === undefined || metadata.model === q.model)
  );
}

/** The product's active devices the target matches, split by whether the release fits their hardware. */
export async function fittingDevices(
  db: Queryable,
  deployment: Pick<Deployment, "productId" | "target">,
  hardware: string[],
): Promise<{
  productId?: string;
  fitting: FittingDevice[];
  incompatible: number;
}> {
  const product = await productById(db, deployment.productId);
  if (!product) return { fitting: [], incompatible: 0 };
  const rows = await db.all<Candidate>(
    `SELECT d.id, d.metadata, d.delta_formats, g.name AS group_name FROM devices d JOIN device_groups g ON g.id = d.group_id
     WHERE (d.product = ? OR d.product = ?) AND d.status = 'active'`,
    [product.id, product.name],
  );
  let incompatible = 0;
  const fitting: FittingDevice[] = [];
  for (const row of rows) {
    const metadata = JSON.parse(row.metadata) as DeviceMetadata;
    if (!matchesTarget(deployment.target, row, metadata)) continue;
    if (hardware.length > 0 && !hardware.includes(metadata.hardwareRevision ?? "")) incompatible++;
    else
      fitting.push({
        id: row.id,
        metadata,
        deltaFormats: row.delta_formats === null ? null : (JSON.parse(row.delta_formats) as string[]),
      });
  }
  return { productId: product.id, fitting, incompatible };
}

/**
 * The devices a deployment reaches now: the product's active devices matching its target (read
 * from the store on each call, so devices that join the group later are taken in: the rollout
 * keeps a read for a few seconds, `rollout.ts`), whose hardware revision
 * the release lists (an empty list fits every revision) and whose anti-rollback floor the release
 * is not below (`guard`: the release's counter) and, when the deployment requires a delta
 * (`delta`), whose agent can apply the release's delta formats (read with them, so a device whose
 * upgraded agent advertises the format is taken in once the rollout reads again). Checked before a device is
 * targeted: a device left out gets no job, and the deployment's summary counts it. Unordered:
 * `inRolloutOrder` ranks them (the rollout pass only when it admits devices, as ranking costs a
 * hash per device).
 */
export async function eligibleDevicesUnordered(
  db: Queryable,
  deployment: Pick<Deployment, "productId" | "target">,
  hardware: string[],
  guard?: Guard,
  delta?: DeltaNeed,
): Promise<Eligibility> {
  const { productId, fitting, incompatible } = await fittingDevices(db, deployment, hardware);
  if (!productId) return { devices: [], incompatible: 0, belowFloor: 0, deltaUnsupported: 0 };
  const below = guard ? await belowFloor(db, productId, guard, fitting) : new Map();
  const above = fitting.filter((d) => !below.has(d.id));
  const unable = new Set(delta ? unableDevices(delta, above).map((d) => d.id) : []);
  const leftOut = delta?.policy === "require" ? unable : new Set<string>();
  const devices = above.filter((d) => !leftOut.has(d.id)).map((d) => d.id);
  return { devices, incompatible, belowFloor: below.size, deltaUnsupported: unable.size };
}

/** Devices in the deployment's stable shuffled order (wave membership). */
export function inRolloutOrder(deploymentId: string, devices: string[]): string[] {
  const rank = (id: string) => createHash("sha256").update(`${deploymentId}:${id}`).digest("hex");
  const ranked = devices.map((id) => ({ id, rank: rank(id) })).sort((a, b) => (a.rank < b.rank ? -1 : 1));
  return ranked.map((d) => d.id);
}

/** `eligibleDevicesUnordered`, in the deployment's rollout order. */
export async function eligibleDevices(
  db: Queryable,
  deployment: Pick<Deployment, "id" | "productId" | "target">,
  hardware: string[],
  guard?: Guard,
  delta?: DeltaNeed,
): Promise<Eligibility> {
  const eligibility = await eligibleDevicesUnordered(db, deployment, hardware, guard, delta);
  return { ...eligibility, devices: inRolloutOrder(deployment.id, eligibility.devices) };
}
