import { BulwarkError } from "@bulwark/sdk/errors";
import semver from "semver";
import type { Queryable } from "../store/store.ts";
import { type Release, releaseById } from "./products.ts";

/**
 * What a release needs to be an update (issue #15 item 2, CRA Annex I Part II (2), (7), (8)):
 * the component it updates, the hardware revisions it fits and, for a security release, an
 * advisory saying what it fixes and what the user should do. Kept beside the release row.
 */
export type Severity = "none" | "low" | "medium" | "high" | "critical";

export interface Advisory {
  summary: string;
  severity: Severity;
  cves: string[];
  /** What the user should do (e.g. "installs automatically; reboot within 7 days"). */
  action: string;
}

export interface ReleaseUpdate {
  releaseId: string;
  /** The component a release updates; one strictly increasing version line per product and component. */
  component: string;
  advisory: Advisory | null;
  /** Hardware revisions the release fits; empty means every revision. */
  hardware: string[];
  publishedAt: string | null;
}

export const DEFAULT_COMPONENT = "firmware";

interface Row {
  release_id: string;
  component: string;
  advisory: string | null;
  hardware: string;
  published_at: number | string | null;
}

const toUpdate = (r: Row): ReleaseUpdate => ({
  releaseId: r.release_id,
  component: r.component,
  advisory: r.advisory ? (JSON.parse(r.advisory) as Advisory) : null,
  hardware: JSON.parse(r.hardware) as string[],
  publishedAt: r.published_at === null ? null : new Date(Number(r.published_at)).toISOString(),
});

/** The release's update fields; a release never edited has the defaults. */
export async function releaseUpdateOf(db: Queryable, releaseId: string): Promise<ReleaseUpdate> {
  const row = await db.get<Row>(`SELECT * FROM release_updates WHERE release_id = ?`, [releaseId]);
  return row
    ? toUpdate(row)
    : { releaseId, component: DEFAULT_COMPONENT, advisory: null, hardware: [], publishedAt: null };
}

/** Sets the update fields of an unpublished release (published metadata is never rewritten). */
export async function setReleaseUpdate(
  db: Queryable,
  releaseId: string,
  change: Partial<Pick<ReleaseUpdate, "component" | "advisory" | "hardware">>,
): Promise<ReleaseUpdate> {
  const current = await releaseUpdateOf(db, releaseId);
  if (current.publishedAt)
    throw new BulwarkError("BW_ERR_CONFLICT", "the release is published; publish a new release instead");
  const next = { ...current, ...change };
  await db.run(`DELETE FROM release_updates WHERE release_id = ?`, [releaseId]);
  await db.run(
    `INSERT INTO release_updates (release_id, component, advisory, hardware, published_at, updated_at)
     VALUES (?, ?, ?, ?, NULL, ?)`,
    [
      releaseId,
      next.component,
      next.advisory ? JSON.stringify(next.advisory) : null,
      JSON.stringify(next.hardware),
      Date.now(),
    ],
  );
  return next;
}

/** The release with its update fields; BW_ERR_NOT_FOUND if there is none. */
export async function updateRelease(db: Queryable, releaseId: string): Promise<Release & ReleaseUpdate> {
  const release = await releaseById(db, releaseId);
  if (!release) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such release");
  return { ...release, ...(await releaseUpdateOf(db, releaseId)) };
}

/**
 * Refuses to publish a release whose version is not semantic (SemVer 2.0.0, so it can be ordered)
 * or not strictly greater than every published release of the same product and component: a
 * device never sees an older image presented as the newest (TUF's rollback protection covers the
 * metadata; this covers what an operator publishes).
 */
export async function assertVersionIncreases(db: Queryable, release: Release & ReleaseUpdate): Promise<void> {
  if (!semver.valid(release.version))
    throw new BulwarkError(
      "BW_ERR_RELEASE_NOT_PUBLISHABLE",
      `version ${release.version} is not a semantic version (e.g. 1.4.2), so it cannot be ordered`,
    );
  const published = await db.all<{ version: string }>(
    `SELECT r.version FROM releases r JOIN release_updates u ON u.release_id = r.id
     WHERE r.product_id = ? AND u.component = ? AND u.published_at IS NOT NULL`,
    [release.productId, release.component],
  );
  const latest = published.map((p) => p.version).sort(semver.rcompare)[0];
  if (latest !== undefined && !semver.gt(release.version, latest))
    throw new BulwarkError(
      "BW_ERR_VERSION_NOT_INCREASING",
      `${release.component} ${release.version} is not above the published ${latest}`,
    );
}

/** Marks the release published (inside the publishing transaction). */
export async function markPublished(db: Queryable, release: ReleaseUpdate): Promise<void> {
  const { component, advisory, hardware } = release;
  await setReleaseUpdate(db, release.releaseId, { component, advisory, hardware });
  await db.run(`UPDATE release_updates SET published_at = ? WHERE release_id = ?`, [
    Date.now(),
    release.releaseId,
  ]);
}
