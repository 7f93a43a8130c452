import type { DeltaPolicy } from "@bulwark/sdk/wire/delta";
import type { Queryable } from "../store/store.ts";
import { DEFAULT_SPEC } from "./deployment-spec.ts";

/**
 * A product's update settings (`product_updates`, migration 981; issue #15 item 10): the delta
 * policy its deployments take when they set none. A product without a row has the built-in
 * default (`prefer`, `DEFAULT_SPEC.delta`).
 */
export interface ProductUpdateSettings {
  productId: string;
  /** The default delta policy of the product's deployments. */
  delta: DeltaPolicy;
  /** "product": set for this product; "server": the built-in default (nothing set). */
  deltaSource: "product" | "server";
  updatedAt: string | null;
}

interface Row {
  delta_policy: DeltaPolicy;
  updated_at: number | string;
}

export async function productUpdateSettings(
  db: Queryable,
  productId: string,
): Promise<ProductUpdateSettings> {
  const row = await db.get<Row>(`SELECT delta_policy, updated_at FROM product_updates WHERE product_id = ?`, [
    productId,
  ]);
  return row
    ? {
        productId,
        delta: row.delta_policy,
        deltaSource: "product",
        updatedAt: new Date(Number(row.updated_at)).toISOString(),
      }
    : { productId, delta: DEFAULT_SPEC.delta, deltaSource: "server", updatedAt: null };
}

/** Sets the product's default delta policy; returns the settings and the policy before. */
export async function setProductDeltaPolicy(
  db: Queryable,
  productId: string,
  delta: DeltaPolicy,
  updatedBy: string | null,
): Promise<{ settings: ProductUpdateSettings; previous: DeltaPolicy }> {
  const previous = (await productUpdateSettings(db, productId)).delta;
  await db.run(
    `INSERT INTO product_updates (product_id, delta_policy, updated_by, updated_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (product_id) DO UPDATE SET delta_policy = excluded.delta_policy,
       updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
    [productId, delta, updatedBy, Date.now()],
  );
  return { settings: await productUpdateSettings(db, productId), previous };
}
