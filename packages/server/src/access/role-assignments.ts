import type { Queryable } from "../store/store.ts";
import type { Role } from "./permissions.ts";

/** A product-scoped role held by a user (`grants.ts` reads them into grants). */
export interface RoleAssignmentRow {
  id: string;
  role: string;
  product_id: string | null;
}

/** A user's role assignments, oldest first, as the users list shows them. */
export const roleAssignmentsOf = (db: Queryable, userId: string): Promise<RoleAssignmentRow[]> =>
  db.all<RoleAssignmentRow>(
    `SELECT id, role, product_id FROM role_assignments WHERE user_id = ? ORDER BY created_at`,
    [userId],
  );

export async function addRoleAssignment(
  db: Queryable,
  assignment: { id: string; userId: string; role: Role; productId: string; createdBy: string },
): Promise<void> {
  await db.run(
    `INSERT INTO role_assignments (id, user_id, role, product_id, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
    [
      assignment.id,
      assignment.userId,
      assignment.role,
      assignment.productId,
      assignment.createdBy,
      Date.now(),
    ],
  );
}

export const roleAssignmentById = (
  db: Queryable,
  id: string,
): Promise<Pick<RoleAssignmentRow, "role" | "product_id"> | undefined> =>
  db.get<Pick<RoleAssignmentRow, "role" | "product_id">>(
    `SELECT role, product_id FROM role_assignments WHERE id = ?`,
    [id],
  );

/** False when there was no such assignment. */
export async function removeRoleAssignment(db: Queryable, id: string): Promise<boolean> {
  const { changes } = await db.run(`DELETE FROM role_assignments WHERE id = ?`, [id]);
  return changes === 1;
}
