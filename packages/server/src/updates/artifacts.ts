import { randomUUID } from "node:crypto";
import { BulwarkError } from "@bulwark/sdk/errors";
import type { Queryable } from "../store/store.ts";
import type { StoredObject } from "./artifact-store.ts";

/** A binary image or a configuration file: the installer a device uses follows from it. */
export type ArtifactKind = "binary" | "config";

/** One file of a release, stored by content (its SHA-256) in the `ArtifactStore`. */
export interface Artifact extends StoredObject {
  id: string;
  releaseId: string;
  /** The target file name (a TUF target path segment). */
  name: string;
  kind: ArtifactKind;
  createdAt: string;
}

interface ArtifactRow {
  id: string;
  release_id: string;
  name: string;
  kind: ArtifactKind;
  length: number | string;
  sha256: string;
  sha512: string;
  created_at: number | string;
}

const toArtifact = (r: ArtifactRow): Artifact => ({
  id: r.id,
  releaseId: r.release_id,
  name: r.name,
  kind: r.kind,
  length: Number(r.length),
  sha256: r.sha256,
  sha512: r.sha512,
  createdAt: new Date(Number(r.created_at)).toISOString(),
});

/** Records a stored object as a release's artifact; a second file of the same name is refused. */
export async function addArtifact(
  db: Queryable,
  input: {
    releaseId: string;
    name: string;
    kind: ArtifactKind;
    stored: StoredObject;
    createdBy: string | null;
  },
): Promise<Artifact> {
  const taken = await db.get(`SELECT id FROM artifacts WHERE release_id = ? AND name = ?`, [
    input.releaseId,
    input.name,
  ]);
  if (taken)
    throw new BulwarkError("BW_ERR_CONFLICT", `the release already has an artifact named ${input.name}`);
  const row: ArtifactRow = {
    id: randomUUID(),
    release_id: input.releaseId,
    name: input.name,
    kind: input.kind,
    length: input.stored.length,
    sha256: input.stored.sha256,
    sha512: input.stored.sha512,
    created_at: Date.now(),
  };
  await db.run(
    `INSERT INTO artifacts (id, release_id, name, kind, length, sha256, sha512, created_by, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      row.id,
      row.release_id,
      row.name,
      row.kind,
      row.length,
      row.sha256,
      row.sha512,
      input.createdBy,
      row.created_at,
    ],
  );
  return toArtifact(row);
}

export async function artifactsOf(db: Queryable, releaseId: string): Promise<Artifact[]> {
  const rows = await db.all<ArtifactRow>(`SELECT * FROM artifacts WHERE release_id = ? ORDER BY name`, [
    releaseId,
  ]);
  return rows.map(toArtifact);
}

export async function artifactById(db: Queryable, id: string): Promise<Artifact | undefined> {
  const row = await db.get<ArtifactRow>(`SELECT * FROM artifacts WHERE id = ?`, [id]);
  return row && toArtifact(row);
}

/**
 * The artifact of one of `productId`'s releases served under the TUF target file name
 * `{sha256}.{name}` or `{sha512}.{name}` (TUF spec §5.7.3, consistent snapshots).
 */
export async function artifactByTargetFile(
  db: Queryable,
  productId: string,
  fileName: string,
): Promise<Artifact | undefined> {
  const match = /^([0-9a-f]{64}|[0-9a-f]{128})\.(.+)$/.exec(fileName);
  if (!match) return undefined;
  const [, digest, name] = match;
  const column = digest!.length === 64 ? "sha256" : "sha512";
  const row = await db.get<ArtifactRow>(
    `SELECT a.* FROM artifacts a JOIN releases r ON r.id = a.release_id
     WHERE r.product_id = ? AND a.${column} = ? AND a.name = ?`,
    [productId, digest!, name!],
  );
  return row && toArtifact(row);
}
