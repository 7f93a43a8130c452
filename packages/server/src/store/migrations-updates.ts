import type { Migration } from "./migration.ts";

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
  {
    id: 882,
    name: "updates-deployments",
    statements: [
      // A rollout of one release to a group, a device list or a query; spec holds strategy, abort
      // rule, maintenance window, network and deferral policy (JSON, validated at the API).
      `CREATE TABLE deployments (
        id TEXT PRIMARY KEY, release_id TEXT NOT NULL REFERENCES releases(id), product_id TEXT NOT NULL,
        target TEXT NOT NULL, spec TEXT NOT NULL, status TEXT NOT NULL, status_reason TEXT,
        wave INTEGER NOT NULL, created_by TEXT, created_at BIGINT NOT NULL, started_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL)`,
      `CREATE INDEX deployments_status ON deployments(status)`,
      // One job per device and deployment: a device never gets the same deployment twice.
      `CREATE TABLE deployment_jobs (
        id TEXT PRIMARY KEY, deployment_id TEXT NOT NULL REFERENCES deployments(id), device_id TEXT NOT NULL,
        state TEXT NOT NULL, wave INTEGER NOT NULL, reason TEXT, progress_bytes BIGINT, progress_total BIGINT,
        defer_until BIGINT, deadline_at BIGINT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
        UNIQUE (deployment_id, device_id))`,
      `CREATE INDEX deployment_jobs_device ON deployment_jobs(device_id, state)`,
      `CREATE INDEX deployment_jobs_state ON deployment_jobs(deployment_id, state)`,
      // Every state change of every job, whoever caused it.
      `CREATE TABLE deployment_job_events (
        id TEXT PRIMARY KEY, job_id TEXT NOT NULL, deployment_id TEXT NOT NULL, device_id TEXT NOT NULL,
        from_state TEXT, to_state TEXT NOT NULL, reason TEXT, actor TEXT NOT NULL, at BIGINT NOT NULL,
        seq BIGINT NOT NULL)`,
      `CREATE INDEX deployment_job_events_job ON deployment_job_events(job_id, seq)`,
    ],
  },
];
