import type { Queryable } from "../store/store.ts";
import { listReleases } from "./product-source.ts";

/** CRA Art. 13(8): at least five years, unless the product is expected to be in use for less. */
export const MINIMUM_SUPPORT_MS = 5 * 365.25 * 24 * 3600 * 1000;

/** The support period of one product version (release version), as data. */
export interface SupportPeriod {
  version: string;
  endsAt: number;
  justification: string | null;
  /** Set when the period is shorter than five years from the release (Art. 13(8)). */
  warning: string | null;
}

interface SupportRow {
  version: string;
  ends_at: number;
  justification: string | null;
}

export async function setSupportPeriod(
  tx: Queryable,
  productId: string,
  period: { version: string; endsAt: number; justification: string | null },
): Promise<void> {
  const { changes } = await tx.run(
    `UPDATE cra_support_periods SET ends_at = ?, justification = ? WHERE product_id = ? AND version = ?`,
    [period.endsAt, period.justification, productId, period.version],
  );
  if (changes === 0)
    await tx.run(
      `INSERT INTO cra_support_periods (product_id, version, ends_at, justification, created_at) VALUES (?, ?, ?, ?, ?)`,
      [productId, period.version, period.endsAt, period.justification, Date.now()],
    );
}

/** Each version's support period with the Art. 13(8) warning, measured from the release's creation. */
export async function supportPeriods(db: Queryable, productId: string): Promise<SupportPeriod[]> {
  const rows = await db.all<SupportRow>(
    `SELECT version, ends_at, justification FROM cra_support_periods WHERE product_id = ? ORDER BY version`,
    [productId],
  );
  const released = new Map((await listReleases(db, productId)).map((r) => [r.version, r.createdAt]));
  return rows.map((r) => {
    const from = released.get(r.version) ?? Date.now();
    const short = Number(r.ends_at) - from < MINIMUM_SUPPORT_MS;
    return {
      version: r.version,
      endsAt: Number(r.ends_at),
      justification: r.justification,
      warning: short
        ? `support ends less than five years after ${released.has(r.version) ? "the release" : "today"}: Art. 13(8) allows this only where the product is expected to be in use for less${r.justification ? "" : " (no justification given)"}`
        : null,
    };
  });
}

/** The support end date of one version, for the declaration, user information and report fields. */
export async function supportEnd(db: Queryable, productId: string, version: string): Promise<number | null> {
  const row = await db.get<{ ends_at: number }>(
    `SELECT ends_at FROM cra_support_periods WHERE product_id = ? AND version = ?`,
    [productId, version],
  );
  return row ? Number(row.ends_at) : null;
}

export async function linkGroup(tx: Queryable, productId: string, groupId: string): Promise<boolean> {
  if (
    await tx.get(`SELECT 1 AS x FROM cra_product_groups WHERE product_id = ? AND group_id = ?`, [
      productId,
      groupId,
    ])
  )
    return false;
  await tx.run(`INSERT INTO cra_product_groups (product_id, group_id) VALUES (?, ?)`, [productId, groupId]);
  return true;
}

export async function unlinkGroup(tx: Queryable, productId: string, groupId: string): Promise<boolean> {
  const { changes } = await tx.run(`DELETE FROM cra_product_groups WHERE product_id = ? AND group_id = ?`, [
    productId,
    groupId,
  ]);
  return changes > 0;
}

export async function linkedGroups(
  db: Queryable,
  productId: string,
): Promise<{ id: string; name: string; policyName: string | null }[]> {
  const rows = await db.all<{ id: string; name: string; policy_name: string | null }>(
    `SELECT g.id, g.name, g.policy_name FROM cra_product_groups l JOIN device_groups g ON g.id = l.group_id
     WHERE l.product_id = ? ORDER BY g.name`,
    [productId],
  );
  return rows.map((r) => ({ id: r.id, name: r.name, policyName: r.policy_name }));
}
