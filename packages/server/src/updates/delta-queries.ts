import type { DeltaFormat } from "@bulwark/sdk/wire/delta";
import semver from "semver";
import type { Queryable } from "../store/store.ts";
import type { StoredObject } from "./artifact-store.ts";
import type { Artifact } from "./artifacts.ts";

/** A delta made at publish time, recorded with the release (`artifact_deltas`, migration 915). */
export interface ArtifactDelta extends StoredObject {
  id: string;
  releaseId: string;
  /** The full artifact's name it reconstructs. */
  artifactName: string;
  /** Its own target file name: `{artifactName}.from-{baseSha256}.zst`. */
  name: string;
  baseReleaseId: string;
  baseSha256: string;
  format: DeltaFormat;
}

export interface DeltaBase {
  releaseId: string;
  version: string;
  artifact: Artifact;
}

/**
 * The bases a new artifact gets deltas from: the same-named artifact of the last `count`
 * published releases of the same product and component (newest first), skipping identical bytes.
 */
export async function deltaBases(
  db: Queryable,
  release: { id: string; productId: string; component: string },
  artifact: Artifact,
  count: number,
): Promise<DeltaBase[]> {
  if (count < 1) return [];
  const rows = await db.all<{ release_id: string; version: string }>(
    `SELECT r.id AS release_id, r.version FROM releases r JOIN release_updates u ON u.release_id = r.id
     WHERE r.product_id = ? AND u.component = ? AND u.published_at IS NOT NULL AND r.id <> ?`,
    [release.productId, release.component, release.id],
  );
  const previous = rows
    .filter((r) => semver.valid(r.version))
    .sort((a, b) => semver.rcompare(a.version, b.version))
    .slice(0, count);
  const bases: DeltaBase[] = [];
  for (const p of previous) {
    const row = await db.get<{ length: number | string; sha256: string; sha512: string; id: string }>(
      `SELECT id, length, sha256, sha512 FROM artifacts WHERE release_id = ? AND name = ?`,
      [p.release_id, artifact.name],
    );
    if (!row || row.sha256 === artifact.sha256) continue;
    bases.push({
      releaseId: p.release_id,
      version: p.version,
      artifact: {
        ...artifact,
        id: row.id,
        length: Number(row.length),
        sha256: row.sha256,
        sha512: row.sha512,
      },
    });
  }
  return bases;
}

export async function insertDelta(db: Queryable, d: ArtifactDelta): Promise<void> {
  await db.run(
    `INSERT INTO artifact_deltas (id, release_id, artifact_name, name, base_release_id, base_sha256, format,
       length, sha256, sha512, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      d.id,
      d.releaseId,
      d.artifactName,
      d.name,
      d.baseReleaseId,
      d.baseSha256,
      d.format,
      d.length,
      d.sha256,
      d.sha512,
      Date.now(),
    ],
  );
}

interface DeltaRow {
  id: string;
  release_id: string;
  artifact_name: string;
  name: string;
  base_release_id: string;
  base_sha256: string;
  format: DeltaFormat;
  length: number | string;
  sha256: string;
  sha512: string;
}

const toDelta = (r: DeltaRow): ArtifactDelta => ({
  id: r.id,
  releaseId: r.release_id,
  artifactName: r.artifact_name,
  name: r.name,
  baseReleaseId: r.base_release_id,
  baseSha256: r.base_sha256,
  format: r.format,
  length: Number(r.length),
  sha256: r.sha256,
  sha512: r.sha512,
});

export async function deltasOf(db: Queryable, releaseId: string): Promise<ArtifactDelta[]> {
  const rows = await db.all<DeltaRow>(`SELECT * FROM artifact_deltas WHERE release_id = ? ORDER BY name`, [
    releaseId,
  ]);
  return rows.map(toDelta);
}

/** A delta of one of `productId`'s releases under its target file name `{sha256|sha512}.{name}` (TUF spec §5.7.3). */
export async function deltaByTargetFile(
  db: Queryable,
  productId: string,
  fileName: string,
): Promise<ArtifactDelta | undefined> {
  const match = /^([0-9a-f]{64}|[0-9a-f]{128})\.(.+)$/.exec(fileName);
  if (!match) return undefined;
  const [, digest, name] = match;
  const column = digest!.length === 64 ? "sha256" : "sha512";
  const row = await db.get<DeltaRow>(
    `SELECT d.* FROM artifact_deltas d JOIN releases r ON r.id = d.release_id
     WHERE r.product_id = ? AND d.${column} = ? AND d.name = ?`,
    [productId, digest!, name!],
  );
  return row && toDelta(row);
}
