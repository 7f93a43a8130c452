import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { BulwarkError } from "@bulwark/sdk/errors";
import type { Queryable } from "../store/store.ts";
import { isPermission, type Permission, ROLE_PERMISSIONS, type Role } from "./permissions.ts";

/**
 * API keys: `bwk_<id>_<secret>`. The id (12 base32 characters) identifies the key in lists and
 * logs; only SHA-256 of the 256-bit secret is stored and it is compared in constant time.
 */
const KEY = /^bwk_([a-z2-7]{12})_([A-Za-z0-9_-]{43})$/;

const sha256 = (text: string) => createHash("sha256").update(text).digest();

function base32Id(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  return [...randomBytes(12)].map((b) => alphabet[b & 31]).join("");
}

export interface ApiKeyInfo {
  id: string;
  /** `bwk_<id>`: the part of the key that may be shown and searched for (e.g. by secret scanners). */
  prefix: string;
  name: string;
  ownerId: string;
  role: Role;
  /** The key's scope; at use it is further narrowed to what its owner currently holds. */
  permissions: Permission[];
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

interface ApiKeyRow {
  id: string;
  name: string;
  owner_id: string;
  secret_hash: string;
  role: Role;
  permissions: string | null;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

// Keys made before scoped keys existed carry their role's permissions.
const permissionsOf = (row: ApiKeyRow): Permission[] =>
  row.permissions === null
    ? [...ROLE_PERMISSIONS[row.role]]
    : (JSON.parse(row.permissions) as unknown[]).filter(isPermission);

const toInfo = (row: ApiKeyRow): ApiKeyInfo => ({
  id: row.id,
  prefix: `bwk_${row.id}`,
  name: row.name,
  permissions: permissionsOf(row),
  ownerId: row.owner_id,
  role: row.role,
  createdAt: iso(row.created_at)!,
  expiresAt: iso(row.expires_at),
  lastUsedAt: iso(row.last_used_at),
  revokedAt: iso(row.revoked_at),
});

export async function createApiKey(
  db: Queryable,
  options: {
    ownerId: string;
    name: string;
    role: Role;
    permissions?: Permission[];
    expiresAt: number | null;
  },
): Promise<{ key: string; info: ApiKeyInfo }> {
  const id = base32Id();
  const secret = randomBytes(32).toString("base64url");
  const row: ApiKeyRow = {
    id,
    name: options.name,
    owner_id: options.ownerId,
    secret_hash: sha256(secret).toString("hex"),
    role: options.role,
    permissions: JSON.stringify([...new Set(options.permissions ?? ROLE_PERMISSIONS[options.role])].sort()),
    created_at: Date.now(),
    expires_at: options.expiresAt,
    last_used_at: null,
    revoked_at: null,
  };
  await db.run(
    `INSERT INTO api_keys (id, name, owner_id, secret_hash, role, permissions, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      row.id,
      row.name,
      row.owner_id,
      row.secret_hash,
      row.role,
      row.permissions,
      row.created_at,
      row.expires_at,
    ],
  );
  return { key: `bwk_${id}_${secret}`, info: toInfo(row) };
}

/**
 * The key if it is well-formed, known, unexpired and unrevoked (with its previous last use). The
 * use is stamped by one conditional update that checks revocation and expiry again, so a key
 * revoked after it was read is refused, not used once more.
 */
export async function authenticateApiKey(
  db: Queryable,
  presented: string,
  now = Date.now(),
): Promise<ApiKeyInfo | undefined> {
  const match = KEY.exec(presented);
  if (!match) return undefined;
  const row = await db.get<ApiKeyRow>(`SELECT * FROM api_keys WHERE id = ?`, [match[1]!]);
  if (!row || !timingSafeEqual(sha256(match[2]!), Buffer.from(row.secret_hash, "hex"))) return undefined;
  const { changes } = await db.run(
    `UPDATE api_keys SET last_used_at = ? WHERE id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`,
    [now, row.id, now],
  );
  return changes === 1 ? toInfo(row) : undefined;
}

/** A key's use is recorded at most this often (CRA Annex I Part I (2)(l), without flooding the log). */
export const KEY_USE_RECORD_MS = 3600_000;

/** Whether this use is the one to record this hour: one conditional update, so parallel uses record once. */
export async function claimKeyUseRecord(db: Queryable, id: string, now = Date.now()): Promise<boolean> {
  const { changes } = await db.run(
    `UPDATE api_keys SET use_recorded_at = ? WHERE id = ? AND (use_recorded_at IS NULL OR use_recorded_at <= ?)`,
    [now, id, now - KEY_USE_RECORD_MS],
  );
  return changes === 1;
}

/** One owner's keys, or every key when `ownerId` is null (administrators). */
export async function listApiKeys(db: Queryable, ownerId: string | null): Promise<ApiKeyInfo[]> {
  const rows =
    ownerId === null
      ? await db.all<ApiKeyRow>(`SELECT * FROM api_keys ORDER BY created_at`)
      : await db.all<ApiKeyRow>(`SELECT * FROM api_keys WHERE owner_id = ? ORDER BY created_at`, [ownerId]);
  return rows.map(toInfo);
}

/** Revokes one of the owner's keys, or any key when `ownerId` is null (administrators). */
export async function revokeApiKey(db: Queryable, ownerId: string | null, id: string): Promise<void> {
  const { changes } =
    ownerId === null
      ? await db.run(`UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, [
          Date.now(),
          id,
        ])
      : await db.run(
          `UPDATE api_keys SET revoked_at = ? WHERE id = ? AND owner_id = ? AND revoked_at IS NULL`,
          [Date.now(), id, ownerId],
        );
  if (changes !== 1) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such active API key");
}
