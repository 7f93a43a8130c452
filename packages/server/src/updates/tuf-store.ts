import type { Envelope, Root } from "@bulwark/sdk/tuf";
import type { Queryable } from "../store/store.ts";

/**
 * Custody key ids (pki/key-custody.ts) of the keys the server holds for a product's TUF roles:
 * each signer is an ECDSA P-256 key and an ML-DSA-65 key. Root may be empty once its keys went
 * offline (signed through signing requests); components are the delegated roles (TUF spec §4.5).
 */
export interface RoleKeyIds {
  root: string[];
  targets: string[];
  snapshot: string[];
  timestamp: string[];
  components: Record<string, string[]>;
}

/** The roles `bulwark tuf rotate` can give new keys (TUF spec §6.1). */
export type RotatableRole = "root" | "targets" | "snapshot" | "timestamp";

/**
 * New custody keys waiting for root version `version` (signed offline) to list them: adopted
 * when it is published, destroyed when another root replaces the request.
 */
export interface PendingRotation {
  version: number;
  roleKeys: Partial<Record<RotatableRole, string[]>>;
}

export interface TufRepositoryRow {
  productId: string;
  roleKeys: RoleKeyIds;
  pendingRoot: Envelope<Root> | null;
  pendingRotation: PendingRotation | null;
}

interface Row {
  product_id: string;
  role_keys: string;
  pending_root: string | null;
  pending_rotation: string | null;
}

export async function tufRepositoryRow(
  db: Queryable,
  productId: string,
): Promise<TufRepositoryRow | undefined> {
  const row = await db.get<Row>(`SELECT * FROM tuf_repositories WHERE product_id = ?`, [productId]);
  return (
    row && {
      productId: row.product_id,
      roleKeys: JSON.parse(row.role_keys) as RoleKeyIds,
      pendingRoot: row.pending_root ? (JSON.parse(row.pending_root) as Envelope<Root>) : null,
      pendingRotation: row.pending_rotation ? (JSON.parse(row.pending_rotation) as PendingRotation) : null,
    }
  );
}

export async function productsWithRepositories(db: Queryable): Promise<string[]> {
  return (await db.all<{ product_id: string }>(`SELECT product_id FROM tuf_repositories`)).map(
    (r) => r.product_id,
  );
}

export async function insertTufRepository(
  db: Queryable,
  productId: string,
  roleKeys: RoleKeyIds,
): Promise<void> {
  const now = Date.now();
  await db.run(
    `INSERT INTO tuf_repositories (product_id, role_keys, pending_root, created_at, updated_at) VALUES (?, ?, NULL, ?, ?)`,
    [productId, JSON.stringify(roleKeys), now, now],
  );
}

export async function updateTufRepository(
  db: Queryable,
  productId: string,
  change: {
    roleKeys?: RoleKeyIds;
    pendingRoot?: Envelope<Root> | null;
    pendingRotation?: PendingRotation | null;
  },
): Promise<void> {
  const current = await tufRepositoryRow(db, productId);
  if (!current) throw new Error(`no TUF repository for ${productId}`);
  const roleKeys = change.roleKeys ?? current.roleKeys;
  const pending = change.pendingRoot === undefined ? current.pendingRoot : change.pendingRoot;
  const rotation = change.pendingRotation === undefined ? current.pendingRotation : change.pendingRotation;
  await db.run(
    `UPDATE tuf_repositories SET role_keys = ?, pending_root = ?, pending_rotation = ?, updated_at = ?
     WHERE product_id = ?`,
    [
      JSON.stringify(roleKeys),
      pending ? JSON.stringify(pending) : null,
      rotation ? JSON.stringify(rotation) : null,
      Date.now(),
      productId,
    ],
  );
}

/** Every published metadata file of the product's repository, by its name under `/tuf/{productId}/`. */
export async function tufFiles(db: Queryable, productId: string): Promise<Map<string, Uint8Array>> {
  const rows = await db.all<{ name: string; body: Uint8Array }>(
    `SELECT name, body FROM tuf_files WHERE product_id = ?`,
    [productId],
  );
  return new Map(rows.map((r) => [r.name, r.body]));
}

export async function tufFile(db: Queryable, productId: string, name: string): Promise<Buffer | undefined> {
  const row = await db.get<{ body: Uint8Array }>(
    `SELECT body FROM tuf_files WHERE product_id = ? AND name = ?`,
    [productId, name],
  );
  return row && Buffer.from(row.body);
}

/**
 * Stores what the writer published since `before`: new versioned files are added (they never
 * change: consistent snapshots, TUF spec §6.2), the unversioned timestamp.json is replaced.
 */
export async function saveTufFiles(
  db: Queryable,
  productId: string,
  files: ReadonlyMap<string, Buffer>,
  before: ReadonlyMap<string, Uint8Array>,
): Promise<string[]> {
  const written: string[] = [];
  for (const [name, body] of files) {
    const old = before.get(name);
    if (old && Buffer.from(old).equals(body)) continue;
    if (old)
      await db.run(`UPDATE tuf_files SET body = ? WHERE product_id = ? AND name = ?`, [
        body,
        productId,
        name,
      ]);
    else
      await db.run(`INSERT INTO tuf_files (product_id, name, body, created_at) VALUES (?, ?, ?, ?)`, [
        productId,
        name,
        body,
        Date.now(),
      ]);
    written.push(name);
  }
  return written;
}
