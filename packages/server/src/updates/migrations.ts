import type { Migration } from "../store/migrations.ts";

/** The updates domain's tables (issue #15; migration ids 880–899 are this domain's). */
export const UPDATES_MIGRATIONS: Migration[] = [
  {
    id: 880,
    name: "updates-artifacts-and-release-fields",
    statements: [
      // Release fields updates need, beside the release row that products.ts owns (one per release).
      // component "firmware" is the product's main image; hardware '[]' means every revision.
      `CREATE TABLE release_updates (
        release_id TEXT PRIMARY KEY REFERENCES releases(id), component TEXT NOT NULL,
        advisory TEXT, hardware TEXT NOT NULL, published_at BIGINT, updated_at BIGINT NOT NULL)`,
      `CREATE INDEX release_updates_component ON release_updates(component, published_at)`,
      `CREATE TABLE artifacts (
        id TEXT PRIMARY KEY, release_id TEXT NOT NULL REFERENCES releases(id), name TEXT NOT NULL,
        kind TEXT NOT NULL, length BIGINT NOT NULL, sha256 TEXT NOT NULL, sha512 TEXT NOT NULL,
        created_by TEXT, created_at BIGINT NOT NULL, UNIQUE (release_id, name))`,
      `CREATE INDEX artifacts_sha256 ON artifacts(sha256)`,
      `CREATE INDEX artifacts_sha512 ON artifacts(sha512)`,
    ],
  },
  {
    id: 881,
    name: "updates-tuf-repositories",
    statements: [
      // One TUF repository per product: which custody keys sign which role (JSON), the next root
      // waiting for offline signatures (JSON envelope), and every published metadata file.
      `CREATE TABLE tuf_repositories (
        product_id TEXT PRIMARY KEY REFERENCES products(id), role_keys TEXT NOT NULL, pending_root TEXT,
        created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)`,
      `CREATE TABLE tuf_files (
        product_id TEXT NOT NULL REFERENCES products(id), name TEXT NOT NULL, body BYTEA NOT NULL,
        created_at BIGINT NOT NULL, PRIMARY KEY (product_id, name))`,
    ],
  },
];
