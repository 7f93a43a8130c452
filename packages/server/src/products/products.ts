import { randomUUID } from "node:crypto";
import { BulwarkError } from "@bulwark/sdk/errors";
import type { Queryable } from "../store/store.ts";

/**
 * Products the maker places on the market (CRA Art. 3(1)) and their releases, which SBOMs,
 * findings and (later) update artifacts attach to; roles can be scoped to a product. CRA Art. 13(8) (support period) and Art. 14 reporting build on it (issue #7).
 */
export type ReleaseClassification = "security" | "feature";

export interface Product {
  id: string;
  name: string;
  createdAt: string;
}

export interface Release {
  id: string;
  productId: string;
  productName: string;
  version: string;
  classification: ReleaseClassification;
  createdAt: number;
}

interface ReleaseRow {
  id: string;
  product_id: string;
  product_name: string;
  version: string;
  classification: ReleaseClassification;
  created_at: number;
}

const toRelease = (r: ReleaseRow): Release => ({
  id: r.id,
  productId: r.product_id,
  productName: r.product_name,
  version: r.version,
  classification: r.classification,
  createdAt: Number(r.created_at),
});

interface ProductRow {
  id: string;
  name: string;
  created_at: number;
}

const toProduct = (row: ProductRow): Product => ({
  id: row.id,
  name: row.name,
  createdAt: new Date(Number(row.created_at)).toISOString(),
});

const RELEASE_SELECT = `SELECT r.id, r.product_id, p.name AS product_name, r.version, r.classification, r.created_at
  FROM releases r JOIN products p ON p.id = r.product_id`;

export async function createProduct(db: Queryable, name: string): Promise<Product> {
  const existing = await db.get(`SELECT id FROM products WHERE name = ?`, [name]);
  if (existing) throw new BulwarkError("BW_ERR_CONFLICT", `a product named ${name} exists`);
  const row: ProductRow = { id: randomUUID(), name, created_at: Date.now() };
  await db.run(`INSERT INTO products (id, name, created_at) VALUES (?, ?, ?)`, [
    row.id,
    row.name,
    row.created_at,
  ]);
  return toProduct(row);
}

export async function productById(db: Queryable, id: string): Promise<Product | undefined> {
  const row = await db.get<ProductRow>(`SELECT * FROM products WHERE id = ?`, [id]);
  return row && toProduct(row);
}

export async function listProducts(db: Queryable): Promise<Product[]> {
  return (await db.all<ProductRow>(`SELECT * FROM products ORDER BY name`)).map(toProduct);
}

export async function createRelease(
  db: Queryable,
  productId: string,
  version: string,
  classification: ReleaseClassification,
): Promise<Release> {
  const product = await productById(db, productId);
  if (!product) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such product");
  if (await db.get(`SELECT id FROM releases WHERE product_id = ? AND version = ?`, [productId, version]))
    throw new BulwarkError("BW_ERR_CONFLICT", `release ${version} of ${product.name} already exists`);
  const release: Release = {
    id: randomUUID(),
    productId,
    productName: product.name,
    version,
    classification,
    createdAt: Date.now(),
  };
  await db.run(
    `INSERT INTO releases (id, product_id, version, classification, created_at) VALUES (?, ?, ?, ?, ?)`,
    [release.id, productId, version, classification, release.createdAt],
  );
  return release;
}

export async function releaseById(db: Queryable, id: string): Promise<Release | undefined> {
  const row = await db.get<ReleaseRow>(`${RELEASE_SELECT} WHERE r.id = ?`, [id]);
  return row && toRelease(row);
}

export async function listReleases(db: Queryable, productId: string): Promise<Release[]> {
  const rows = await db.all<ReleaseRow>(`${RELEASE_SELECT} WHERE r.product_id = ? ORDER BY r.created_at`, [
    productId,
  ]);
  return rows.map(toRelease);
}
