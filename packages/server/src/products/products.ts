import { randomUUID } from "node:crypto";
import { BulwarkError } from "@bulwark/sdk/errors";
import type { FastifyInstance } from "fastify";
import { productScope } from "../access/principal.ts";
import { actorOf } from "../audit/actor.ts";
import { appendAudit } from "../audit/audit-log.ts";
import type { Queryable, Store } from "../store/store.ts";

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

const NAME = { type: "string", minLength: 1, maxLength: 128, pattern: "^[A-Za-z0-9][A-Za-z0-9._ -]*$" };
const VERSION = { type: "string", minLength: 1, maxLength: 64, pattern: "^[A-Za-z0-9][A-Za-z0-9.+_~-]*$" };
const ID_PARAMS = {
  type: "object",
  properties: { id: { type: "string", format: "uuid" } },
  required: ["id"],
} as const;

export function productRoutes(store: Store) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    // Lists the products the caller may read: all for a global grant, else only its scoped ones.
    app.get(
      "/api/v1/products",
      { config: { auth: { permission: "products:read", scoped: true } } },
      async (request) => {
        const scope = productScope(request.principal, "products:read");
        const all = await listProducts(store);
        return { items: scope === "all" ? all : all.filter((p) => scope.includes(p.id)) };
      },
    );

    app.get<{ Params: { id: string } }>(
      "/api/v1/products/:id",
      {
        config: { auth: { permission: "products:read", productParam: "id" } },
        schema: { params: ID_PARAMS },
      },
      async (request) => {
        const product = await productById(store, request.params.id);
        if (!product) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such product");
        return product;
      },
    );

    app.post<{ Body: { name: string } }>(
      "/api/v1/products",
      {
        config: { auth: { permission: "products:write" } },
        schema: {
          body: {
            type: "object",
            additionalProperties: false,
            required: ["name"],
            properties: { name: NAME },
          },
        },
      },
      async (request, reply) => {
        const product = await store.transaction(async (tx) => {
          const created = await createProduct(tx, request.body.name);
          await appendAudit(tx, {
            actor: actorOf(request.principal),
            action: "product.create",
            target: { type: "product", id: created.id },
            outcome: "success",
            details: { name: created.name },
          });
          return created;
        });
        reply.code(201);
        return product;
      },
    );

    app.get<{ Params: { id: string } }>(
      "/api/v1/products/:id/releases",
      {
        config: { auth: { permission: "products:read", productParam: "id" } },
        schema: { params: ID_PARAMS },
      },
      async (request) => ({ items: await listReleases(store, request.params.id) }),
    );

    app.post<{ Params: { id: string }; Body: { version: string; classification?: ReleaseClassification } }>(
      "/api/v1/products/:id/releases",
      {
        config: { auth: { permission: "products:write", productParam: "id" } },
        schema: {
          params: ID_PARAMS,
          body: {
            type: "object",
            additionalProperties: false,
            required: ["version"],
            properties: {
              version: VERSION,
              classification: { type: "string", enum: ["security", "feature"] },
            },
          },
        },
      },
      async (request, reply) => {
        const release = await store.transaction(async (tx) => {
          const created = await createRelease(
            tx,
            request.params.id,
            request.body.version,
            request.body.classification ?? "feature",
          );
          await appendAudit(tx, {
            actor: actorOf(request.principal),
            action: "release.create",
            target: { type: "release", id: created.id },
            outcome: "success",
            details: { product: created.productName, version: created.version },
          });
          return created;
        });
        reply.code(201);
        return release;
      },
    );

    app.get<{ Params: { id: string } }>(
      "/api/v1/releases/:id",
      { config: { auth: { permission: "products:read" } }, schema: { params: ID_PARAMS } },
      async (request) => {
        const release = await releaseById(store, request.params.id);
        if (!release) throw new BulwarkError("BW_ERR_NOT_FOUND", "no such release");
        return release;
      },
    );
  };
}
