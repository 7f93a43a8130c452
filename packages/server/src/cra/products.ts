import { randomUUID } from "node:crypto";
import { BulwarkError } from "@bulwark/sdk/errors";
import type { FastifyInstance } from "fastify";
import { appendAudit } from "../audit/audit-log.ts";
import { actorOf, productScope } from "../http/auth.ts";
import type { Queryable, Store } from "../store/store.ts";

/** A product the maker places on the market (CRA Art. 3(1)); the CRA domain extends this record. */
export interface Product {
  id: string;
  name: string;
  createdAt: string;
}

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

const ID_PARAMS = {
  type: "object",
  properties: { id: { type: "string", format: "uuid" } },
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
            properties: { name: { type: "string", minLength: 1, maxLength: 200 } },
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
  };
}
