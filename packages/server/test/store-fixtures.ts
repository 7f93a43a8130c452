import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { DATABASE_URL, freshSchema, needServices } from "../../../test/services.ts";
import { createProduct, createRelease, type Release } from "../src/products/products.ts";
import { migrate } from "../src/store/migrate.ts";
import { migrations } from "../src/store/migrations.ts";
import { PostgresStore } from "../src/store/postgres.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import type { Queryable, Store } from "../src/store/store.ts";

export interface TestStore {
  store: Store;
  /** A temporary directory for the test's files, removed by `close`. */
  dir: string;
  close(): Promise<void>;
}

/** Migrations up to `upTo` (all by default): tests of a migration start from the schema before it. */
const upToMigration = (upTo = Number.POSITIVE_INFINITY) => migrations.filter((m) => m.id <= upTo);

/** Shared by the software tests: a real migrated SQLite store in a temporary directory. */
export async function tempStore(upTo?: number): Promise<TestStore> {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-software-"));
  const store = new SqliteStore(join(dir, "bulwark.db"));
  await migrate(store, upToMigration(upTo));
  return {
    store,
    dir,
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A real migrated PostgreSQL store in a fresh schema (undefined, test skipped, without PostgreSQL). */
export async function tempPostgresStore(t: TestContext, upTo?: number): Promise<TestStore | undefined> {
  if (!(await needServices(t, ["postgres"]))) return undefined;
  const schema = freshSchema();
  const store = await PostgresStore.open({ url: DATABASE_URL, schema: schema.name });
  await migrate(store, upToMigration(upTo));
  const dir = mkdtempSync(join(tmpdir(), "bulwark-software-"));
  return {
    store,
    dir,
    async close() {
      await store.close();
      await schema.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Both stores, for tests of SQL that must behave the same on each. */
export const storeBackends: {
  name: string;
  open(t: TestContext, upTo?: number): Promise<TestStore | undefined>;
}[] = [
  { name: "SqliteStore", open: (_t, upTo) => tempStore(upTo) },
  { name: "PostgresStore", open: tempPostgresStore },
];

/** Creates (or reuses) the product and a new release of it; inside `tx` when given a transaction. */
export async function release(db: Store | Queryable, product: string, version: string): Promise<Release> {
  const make = async (tx: Queryable) => {
    const existing = await tx.get<{ id: string }>(`SELECT id FROM products WHERE name = ?`, [product]);
    const id = existing?.id ?? (await createProduct(tx, product)).id;
    return createRelease(tx, id, version, "feature");
  };
  return "transaction" in db ? db.transaction(make) : make(db);
}

export interface MiniAdvisory {
  id: string;
  modified?: string;
  aliases?: string[];
  withdrawn?: string;
  ecosystem?: string;
  name: string;
  introduced?: string;
  fixed?: string;
  cvss?: string;
}

/** A minimal valid OSV record (OSV schema 1.7) with one SEMVER/ECOSYSTEM range. */
export function osvRecord(a: MiniAdvisory): Record<string, unknown> {
  const ecosystem = a.ecosystem ?? "npm";
  return {
    schema_version: "1.7.0",
    id: a.id,
    modified: a.modified ?? "2024-01-01T00:00:00Z",
    ...(a.withdrawn ? { withdrawn: a.withdrawn } : {}),
    aliases: a.aliases ?? [],
    summary: `${a.id} in ${a.name}`,
    ...(a.cvss ? { severity: [{ type: "CVSS_V3", score: a.cvss }] } : {}),
    affected: [
      {
        package: { ecosystem, name: a.name },
        ranges: [
          {
            type: ecosystem === "npm" || ecosystem === "Go" ? "SEMVER" : "ECOSYSTEM",
            events: [{ introduced: a.introduced ?? "0" }, ...(a.fixed ? [{ fixed: a.fixed }] : [])],
          },
        ],
      },
    ],
  };
}

/** Writes records as `<id>.json` files into a new directory (an OSV "directory bundle"). */
/** The minimist prototype-pollution advisory (fixed in 1.2.6), at a given `modified` time. */
export const minimistAdvisory = (modified: string, withdrawn?: string): Record<string, unknown> =>
  osvRecord({
    id: "GHSA-mmmm-0000-0001",
    aliases: ["CVE-2024-1001"],
    name: "minimist",
    fixed: "1.2.6",
    modified,
    ...(withdrawn ? { withdrawn } : {}),
  });

export function osvDir(parent: string, records: readonly Record<string, unknown>[], name = "osv"): string {
  const dir = mkdtempSync(join(parent, `${name}-`));
  mkdirSync(dir, { recursive: true });
  for (const r of records) writeFileSync(join(dir, `${String(r.id)}.json`), JSON.stringify(r));
  return dir;
}

/** A CycloneDX 1.6 SBOM with the given npm packages (name@version). */
export function cyclonedx(packages: readonly string[]): string {
  return JSON.stringify({
    bomFormat: "CycloneDX",
    specVersion: "1.6",
    version: 1,
    metadata: {
      timestamp: "2026-01-01T00:00:00Z",
      component: { type: "application", name: "app", "bom-ref": "app" },
    },
    components: packages.map((p) => {
      const at = p.lastIndexOf("@");
      const name = p.slice(0, at);
      const version = p.slice(at + 1);
      return {
        type: "library",
        "bom-ref": `pkg:npm/${name}@${version}`,
        name,
        version,
        purl: `pkg:npm/${name}@${version}`,
      };
    }),
  });
}

export async function count(store: Store, table: string): Promise<number> {
  return Number((await store.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`))?.n ?? 0);
}

/** Row counts of every table the software domain writes: "unchanged" in bad-input tests means these. */
export async function softwareCounts(store: Store): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of [
    "sboms",
    "sbom_components",
    "vulnerabilities",
    "vulnerability_aliases",
    "vulnerability_packages",
    "known_exploited",
    "kev_catalog",
    "component_purls",
    "release_keys",
    "release_components",
    "finding_details",
    "finding_matches",
    "findings",
    "webhook_deliveries",
    "audit_log",
  ])
    out[t] = await count(store, t);
  return out;
}
