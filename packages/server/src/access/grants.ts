import type { Queryable } from "../store/store.ts";
import { isRole, type Permission, ROLE_PERMISSIONS, type Role } from "./permissions.ts";

/**
 * What a principal may do: one grant per role it holds, either global (`productId` null) or
 * scoped to one product (CRA Annex I Part I (2)(d), least privilege). An API key narrows every
 * grant of its owner to the key's own permission list.
 */
export interface Grant {
  role: Role;
  productId: string | null;
  permissions: ReadonlySet<Permission>;
}

const grantOf = (role: Role, productId: string | null): Grant => ({
  role,
  productId,
  permissions: new Set(ROLE_PERMISSIONS[role]),
});

/** The user's global role (if any) plus its role assignments, read fresh on every request. */
export async function grantsOf(db: Queryable, user: { id: string; role: Role | null }): Promise<Grant[]> {
  const rows = await db.all<{ role: string; product_id: string | null }>(
    `SELECT role, product_id FROM role_assignments WHERE user_id = ? ORDER BY created_at`,
    [user.id],
  );
  const grants = user.role ? [grantOf(user.role, null)] : [];
  for (const row of rows) if (isRole(row.role)) grants.push(grantOf(row.role, row.product_id));
  return grants;
}

/** Without a product: a global grant must hold it. With one: a global grant or one scoped to it. */
export function grantsAllow(grants: readonly Grant[], permission: Permission, productId?: string): boolean {
  return grants.some(
    (g) =>
      g.permissions.has(permission) &&
      (g.productId === null || (productId !== undefined && g.productId === productId)),
  );
}

/** Whether any grant, global or scoped, holds the permission (routes that filter by scope themselves). */
export const grantsAllowSomewhere = (grants: readonly Grant[], permission: Permission): boolean =>
  grants.some((g) => g.permissions.has(permission));

/** The products a permission reaches: `all` through a global grant, else the scoped product ids. */
export function scopeOf(grants: readonly Grant[], permission: Permission): "all" | string[] {
  const holding = grants.filter((g) => g.permissions.has(permission));
  if (holding.some((g) => g.productId === null)) return "all";
  return [...new Set(holding.map((g) => g.productId!))];
}

export function narrowGrants(grants: readonly Grant[], allowed: readonly Permission[]): Grant[] {
  const keep = new Set(allowed);
  return grants.map((g) => ({ ...g, permissions: new Set([...g.permissions].filter((p) => keep.has(p))) }));
}

export const allPermissions = (grants: readonly Grant[]): Set<Permission> =>
  new Set(grants.flatMap((g) => [...g.permissions]));
