import { BulwarkError } from "@bulwark/sdk/errors";
import type { DeltaPolicy } from "@bulwark/sdk/wire/delta";
import type { MaintenanceWindow, NetworkPolicy } from "@bulwark/sdk/wire/jobs";
import { Cron } from "croner";
import semver from "semver";
import type { Queryable } from "../store/store.ts";
import { belowFloor, oldestAtCounter, releaseGuard } from "./anti-rollback.ts";
import { advertisedText, deltaNeedOf, missingFormats, unableDevices } from "./delta-capability.ts";
import { deltasOf } from "./delta-queries.ts";
import {
  type AbortRule,
  DEFAULT_SPEC,
  type DeploymentSpec,
  type DeploymentTarget,
  type Strategy,
} from "./deployment-spec.ts";
import { type Deployment, insertDeployment } from "./deployments.ts";
import { fittingDevices } from "./eligibility.ts";
import { productUpdateSettings } from "./product-updates.ts";
import { updateRelease } from "./release-updates.ts";

export interface DeploymentRequest {
  releaseId: string;
  group?: string;
  devices?: string[];
  query?: { group?: string; hardwareRevision?: string; model?: string };
  strategy?: Strategy;
  abort?: Partial<AbortRule> & Pick<AbortRule, "failureRate" | "minCount">;
  window?: MaintenanceWindow | null;
  network?: NetworkPolicy;
  maxDeferralSeconds?: number;
  jobTimeoutSeconds?: number;
  rollback?: boolean;
  delta?: DeltaPolicy;
}

function targetOf(body: DeploymentRequest): DeploymentTarget {
  const given = [body.group, body.devices, body.query].filter((v) => v !== undefined).length;
  if (given !== 1) throw new BulwarkError("BW_ERR_VALIDATION", "give exactly one of group, devices or query");
  if (body.group !== undefined) return { group: body.group };
  if (body.devices !== undefined) return { devices: body.devices };
  return { query: body.query! };
}

function checkStrategy(strategy: Strategy): Strategy {
  if (strategy.kind !== "waves") return strategy;
  const waves = strategy.waves;
  if (waves.some((w, i) => i > 0 && w <= waves[i - 1]!) || waves.at(-1) !== 100)
    throw new BulwarkError(
      "BW_ERR_VALIDATION",
      "waves are cumulative percentages, increasing, ending at 100",
    );
  return {
    kind: "waves",
    waves,
    successGate: strategy.successGate ?? 0.95,
    pauseAfterWave: strategy.pauseAfterWave ?? false,
  };
}

// A window's cron expression and IANA time zone must both be understood, or devices could never install.
function checkWindow(window: MaintenanceWindow | null): MaintenanceWindow | null {
  if (!window) return null;
  try {
    const next = new Cron(window.cron, { timezone: window.timeZone, paused: true }).nextRun();
    if (!next) throw new Error("the window never opens");
  } catch (error) {
    throw new BulwarkError("BW_ERR_VALIDATION", `maintenance window: ${(error as Error).message}`);
  }
  return window;
}

function checkNetwork(network: NetworkPolicy): NetworkPolicy {
  if (network.metered === "cap" && network.maxMeteredBytes === undefined)
    throw new BulwarkError("BW_ERR_VALIDATION", "a metered cap needs maxMeteredBytes");
  return network;
}

/** Validates a deployment request against the release and the fleet, then stores it (running). */
export async function createDeployment(
  db: Queryable,
  body: DeploymentRequest,
  createdBy: string | null,
): Promise<Deployment> {
  const release = await updateRelease(db, body.releaseId);
  if (!release.publishedAt)
    throw new BulwarkError(
      "BW_ERR_RELEASE_NOT_PUBLISHABLE",
      "publish the release first (bulwark release publish)",
    );
  const target = targetOf(body);
  const group = "group" in target ? target.group : "query" in target ? target.query.group : undefined;
  if (group !== undefined && !(await db.get(`SELECT id FROM device_groups WHERE name = ?`, [group])))
    throw new BulwarkError("BW_ERR_GROUP_NOT_FOUND", `no group named ${group}`);
  const rollback = body.rollback ?? false;
  if (rollback) await checkRollback(db, release);
  await checkFloors(db, release, target, rollback);
  // A deployment without its own delta policy takes its product's default (issue #15 item 10).
  const productDelta =
    body.delta === undefined ? await productUpdateSettings(db, release.productId) : undefined;
  const spec: DeploymentSpec = {
    strategy: checkStrategy(body.strategy ?? DEFAULT_SPEC.strategy),
    abort: { ...DEFAULT_SPEC.abort, ...body.abort },
    window: checkWindow(body.window ?? null),
    network: checkNetwork(body.network ?? DEFAULT_SPEC.network),
    maxDeferralSeconds: body.maxDeferralSeconds ?? DEFAULT_SPEC.maxDeferralSeconds,
    jobTimeoutSeconds: body.jobTimeoutSeconds ?? DEFAULT_SPEC.jobTimeoutSeconds,
    rollback,
    delta: body.delta ?? productDelta?.delta ?? DEFAULT_SPEC.delta,
  };
  const fromProduct =
    productDelta?.deltaSource === "product"
      ? " (the product's default delta policy; give delta to override it)"
      : "";
  if (spec.delta === "require" && (await deltasOf(db, release.id)).length === 0)
    throw new BulwarkError(
      "BW_ERR_VALIDATION",
      `the release has no delta targets (no earlier published release of the component to diff against, or images over the delta cap): delta require${fromProduct} would fail every device`,
    );
  if (spec.delta === "require") await checkDeltaFormats(db, release, target, fromProduct);
  return insertDeployment(db, {
    releaseId: release.id,
    productId: release.productId,
    target,
    spec,
    createdBy,
  });
}

/** A fleet rollback goes to an earlier published release of the same component; devices refuse one below their anti-rollback counter. */
async function checkRollback(
  db: Queryable,
  release: Awaited<ReturnType<typeof updateRelease>>,
): Promise<void> {
  const newer = await db.all<{ version: string }>(
    `SELECT r.version FROM releases r JOIN release_updates u ON u.release_id = r.id
     WHERE r.product_id = ? AND u.component = ? AND u.published_at IS NOT NULL`,
    [release.productId, release.component],
  );
  if (!newer.some((r) => semver.gt(r.version, release.version)))
    throw new BulwarkError(
      "BW_ERR_VALIDATION",
      "a rollback deployment needs a newer published release to roll back from",
    );
}

/**
 * Server-side anti-rollback (anti-rollback.ts): a deployment naming devices, or a fleet rollback,
 * is refused when the release is below the anti-rollback floor of a device it targets, naming the
 * devices and their floors. A forward deployment to a group or query is kept: those devices are
 * left out by eligibility and counted in its summary (`belowFloor`). A release with the same
 * counter as the floor (a last-known-good after a feature release) passes.
 */
async function checkFloors(
  db: Queryable,
  release: Awaited<ReturnType<typeof updateRelease>>,
  target: DeploymentTarget,
  rollback: boolean,
): Promise<void> {
  if (!rollback && !("devices" in target)) return;
  const guard = await releaseGuard(db, release.id);
  if (!guard) return;
  const { fitting } = await fittingDevices(db, { productId: release.productId, target }, release.hardware);
  const below = await belowFloor(db, release.productId, guard, fitting);
  if (below.size === 0) return;
  const listed = [...below]
    .slice(0, 3)
    .map(
      ([id, floor]) =>
        `${id} (counter ${floor.counter}, ${floor.reported ? "reported by the device" : `${floor.version} installed`})`,
    )
    .join(", ");
  const more = below.size > 3 ? ` and ${below.size - 3} more` : "";
  const needed = Math.max(...[...below.values()].map((f) => f.counter));
  const oldest = await oldestAtCounter(db, release.productId, guard.component, needed);
  throw new BulwarkError(
    "BW_ERR_ANTI_ROLLBACK",
    `${release.component} ${release.version} has anti-rollback counter ${guard.counter}, below the floor of ${below.size} targeted device(s): ${listed}${more}; the oldest release they all accept is ${oldest ?? `one with counter ${needed}`}`,
  );
}

/**
 * A deployment naming devices, with delta `require`, is refused when a listed device's agent cannot
 * apply one of the release's delta formats (`delta-capability.ts`), naming the devices and what
 * their agents advertise: such a device would be left out, and the deployment would complete
 * without it. A group or query deployment is kept: those devices are left out by eligibility,
 * counted in its summary, and taken in once their agent advertises the format.
 */
async function checkDeltaFormats(
  db: Queryable,
  release: Awaited<ReturnType<typeof updateRelease>>,
  target: DeploymentTarget,
  fromProduct: string,
): Promise<void> {
  if (!("devices" in target)) return;
  const need = await deltaNeedOf(db, release.id, "require");
  const { fitting } = await fittingDevices(db, { productId: release.productId, target }, release.hardware);
  const unable = unableDevices(need, fitting);
  if (unable.length === 0) return;
  const listed = unable
    .slice(0, 3)
    .map(
      (d) =>
        `${d.id} (lacks ${missingFormats(need, d.deltaFormats).join(", ")}; applies ${advertisedText(d.deltaFormats)})`,
    )
    .join(", ");
  const more = unable.length > 3 ? ` and ${unable.length - 3} more` : "";
  throw new BulwarkError(
    "BW_ERR_DELTA_UNSUPPORTED",
    `${release.component} ${release.version} has ${need.formats.join(", ")} deltas and delta require${fromProduct} sends only deltas, which the agent of ${unable.length} targeted device(s) cannot apply: ${listed}${more}; upgrade their agent, or deploy with delta prefer (they take the full image)`,
  );
}
