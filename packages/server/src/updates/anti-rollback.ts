import type { DeviceMetadata } from "@bulwark/sdk/wire/metadata";
import semver from "semver";
import type { Queryable } from "../store/store.ts";
import { releaseById } from "./products.ts";
import { DEFAULT_COMPONENT, releaseUpdateOf } from "./release-updates.ts";

/**
 * The server's side of anti-rollback (issue #15: "a fleet rollback to the last known-good release
 * guarded by an anti-rollback counter"; CRA Annex I Part I (2)(c): vulnerabilities addressed by
 * security updates stay addressed). A release's counter is the number of published security releases of
 * its product and component at or below its version: versions only increase on publishing
 * (`assertVersionIncreases`), so the counter never changes once a release has it, rises with each
 * security release and is shared by the feature releases that follow one. A device's floor is the
 * highest counter of what it has installed: the releases of its succeeded jobs and, for the main
 * firmware, the version it reports in its metadata — unless the device reports its floor itself
 * (`antiRollbackCounters` in its metadata, the highest signed counter its agent installed), which
 * is then the floor: it is the one the device enforces. A release below a device's floor would bring
 * back a vulnerability a security release fixed; one with the same counter is a last-known-good.
 */
export interface Guard {
  component: string;
  version: string;
  counter: number;
}

export interface Floor {
  counter: number;
  /** The installed version that set the floor (none when the device reported its floor itself). */
  version?: string;
  /** The device reported this floor in its metadata (`antiRollbackCounters`). */
  reported?: boolean;
}

/** Published security versions of a product's component, for counting. */
async function securityVersions(db: Queryable, productId: string, component: string): Promise<string[]> {
  const rows = await db.all<{ version: string }>(
    `SELECT r.version FROM releases r JOIN release_updates u ON u.release_id = r.id
     WHERE r.product_id = ? AND u.component = ? AND u.published_at IS NOT NULL AND r.classification = 'security'`,
    [productId, component],
  );
  return rows.map((r) => r.version).filter((v) => semver.valid(v));
}

/** The counter at `version`: security releases at or below it (0 for a version that is not semantic). */
export function counterAt(security: string[], version: string | undefined): number {
  if (!version || !semver.valid(version)) return 0;
  return security.filter((s) => semver.lte(s, version)).length;
}

/**
 * The counter a release is published with (`publish.ts` signs it into each of its targets'
 * `custom.antiRollbackCounter`, TUF spec §4.5 custom): the same count as `releaseGuard`, with the
 * release itself counted when it is a security release (it is marked published in the same change).
 */
export async function counterAtPublish(
  db: Queryable,
  productId: string,
  component: string,
  version: string,
  security: boolean,
): Promise<number> {
  const known = await securityVersions(db, productId, component);
  return counterAt(security && !known.includes(version) ? [...known, version] : known, version);
}

/** The release's component, version and anti-rollback counter. */
export async function releaseGuard(db: Queryable, releaseId: string): Promise<Guard | undefined> {
  const release = await releaseById(db, releaseId);
  if (!release) return undefined;
  const { component } = await releaseUpdateOf(db, releaseId);
  const security = await securityVersions(db, release.productId, component);
  return { component, version: release.version, counter: counterAt(security, release.version) };
}

/**
 * Each given device's floor for the component (devices with nothing known installed have none): the
 * higher of the floor the device reports (`metadata.antiRollbackCounters[component]`: the highest
 * signed counter its agent installed, the floor the agent itself enforces; preferred at equal
 * counters) and the server's own record of its succeeded jobs; for a device that reports no floor
 * (an older agent), its succeeded jobs and the firmware version it reports.
 * The record cannot be rolled back with the device's storage: a store put back reports a lower floor
 * until the server's `FloorNotice` raises it again (`job-notify.ts`).
 */
export async function deviceFloors(
  db: Queryable,
  productId: string,
  component: string,
  devices: { id: string; metadata: DeviceMetadata }[],
  known?: string[],
): Promise<Map<string, Floor>> {
  const floors = new Map<string, Floor>();
  if (devices.length === 0) return floors;
  const security = known ?? (await securityVersions(db, productId, component));
  const installed = new Map<string, string[]>();
  const add = (id: string, version: string | undefined) => {
    if (version) installed.set(id, [...(installed.get(id) ?? []), version]);
  };
  const wanted = new Set(devices.map((d) => d.id));
  const rows = await db.all<{ device_id: string; version: string }>(
    `SELECT j.device_id, r.version FROM deployment_jobs j
     JOIN deployments d ON d.id = j.deployment_id
     JOIN releases r ON r.id = d.release_id
     JOIN release_updates u ON u.release_id = r.id
     WHERE d.product_id = ? AND u.component = ? AND j.state = 'succeeded'`,
    [productId, component],
  );
  for (const row of rows) if (wanted.has(row.device_id)) add(row.device_id, row.version);
  // The firmware version a device reports counts only for one that reports no floor (an older agent):
  // both are the device's word, and its floor is the one its agent enforces.
  if (component === DEFAULT_COMPONENT)
    for (const d of devices)
      if (d.metadata.antiRollbackCounters?.[component] === undefined) add(d.id, d.metadata.firmwareVersion);
  for (const [id, versions] of installed) {
    let best: Floor | undefined;
    for (const version of versions) {
      const counter = counterAt(security, version);
      if (!best || counter > best.counter) best = { counter, version };
    }
    if (best && best.counter > 0) floors.set(id, best);
  }
  for (const d of devices) {
    const reported = d.metadata.antiRollbackCounters?.[component];
    const recorded = floors.get(d.id)?.counter ?? 0;
    if (reported !== undefined && reported > 0 && reported >= recorded)
      floors.set(d.id, { counter: reported, reported: true });
  }
  return floors;
}

/** The oldest release with at least `counter`: the security release that raised it to that value. */
export async function oldestAtCounter(
  db: Queryable,
  productId: string,
  component: string,
  counter: number,
): Promise<string | undefined> {
  if (counter <= 0) return undefined;
  return (await securityVersions(db, productId, component)).sort(semver.compare)[counter - 1];
}

/** The devices whose floor is above the release's counter, with their floor. */
export async function belowFloor(
  db: Queryable,
  productId: string,
  guard: Guard,
  devices: { id: string; metadata: DeviceMetadata }[],
): Promise<Map<string, Floor>> {
  const security = await securityVersions(db, productId, guard.component);
  // The newest counter is nobody's floor to be below: the common case (deploying the latest line) reads no jobs.
  if (guard.counter >= security.length) return new Map();
  const floors = await deviceFloors(db, productId, guard.component, devices, security);
  return new Map([...floors].filter(([, floor]) => floor.counter > guard.counter));
}

/**
 * Per component, the highest anti-rollback counter of what the device's succeeded jobs installed:
 * the server's own record (a succeeded job never changes, `job-reports.ts`), which the device's
 * storage cannot roll back. Read per device with the `deployment_jobs_device` index.
 */
export async function installedCounters(db: Queryable, deviceId: string): Promise<Record<string, number>> {
  const rows = await db.all<{ product_id: string; component: string; version: string }>(
    `SELECT DISTINCT d.product_id, u.component, r.version FROM deployment_jobs j
     JOIN deployments d ON d.id = j.deployment_id
     JOIN releases r ON r.id = d.release_id
     JOIN release_updates u ON u.release_id = r.id
     WHERE j.device_id = ? AND j.state = 'succeeded'`,
    [deviceId],
  );
  const security = new Map<string, string[]>();
  const counters: Record<string, number> = {};
  for (const row of rows) {
    const key = `${row.product_id}\u0000${row.component}`;
    let known = security.get(key);
    if (!known) {
      known = await securityVersions(db, row.product_id, row.component);
      security.set(key, known);
    }
    counters[row.component] = Math.max(counters[row.component] ?? 0, counterAt(known, row.version));
  }
  return counters;
}
