import type { Migration } from "./migration.ts";

/**
 * The CRA domain's tables (migration ids 900–919, and 920–924). Products and releases stay where they are
 * (`product-source.ts`); everything the compliance layer adds is keyed by product id here.
 */
export const craMigrations: Migration[] = [
  {
    // Issue #16 item 1: the product's CRA data (Art. 13, 32; Annex II, V).
    id: 900,
    name: "cra-product-profiles",
    statements: [
      `CREATE TABLE cra_product_profiles (
        product_id TEXT PRIMARY KEY REFERENCES products(id), manufacturer TEXT NOT NULL,
        representative TEXT, importer TEXT, intended_purpose TEXT NOT NULL, member_states TEXT NOT NULL,
        main_establishment TEXT NOT NULL, category TEXT NOT NULL, annex_category TEXT,
        category_rationale TEXT NOT NULL, conformity_route TEXT NOT NULL, update_repository TEXT,
        updated_by TEXT, updated_at BIGINT NOT NULL)`,
      `CREATE TABLE cra_support_periods (
        product_id TEXT NOT NULL REFERENCES products(id), version TEXT NOT NULL, ends_at BIGINT NOT NULL,
        justification TEXT, created_at BIGINT NOT NULL, PRIMARY KEY (product_id, version))`,
      `CREATE TABLE cra_product_groups (
        product_id TEXT NOT NULL REFERENCES products(id), group_id TEXT NOT NULL REFERENCES device_groups(id),
        PRIMARY KEY (product_id, group_id))`,
    ],
  },
  {
    // Issue #16 item 2: risk assessments, immutable versions (Art. 13(2)–(3)).
    id: 901,
    name: "cra-risk-assessments",
    statements: [
      `CREATE TABLE cra_risk_assessments (
        product_id TEXT NOT NULL REFERENCES products(id), version INTEGER NOT NULL, document TEXT NOT NULL,
        sha256 TEXT NOT NULL, created_by TEXT, created_at BIGINT NOT NULL, PRIMARY KEY (product_id, version))`,
    ],
  },
  {
    // Issue #16 item 3: dated snapshots of the Annex I matrix, one row per requirement whose
    // status or reason changed.
    id: 902,
    name: "cra-evidence-snapshots",
    statements: [
      `CREATE TABLE cra_evidence_snapshots (
        id TEXT PRIMARY KEY, product_id TEXT NOT NULL REFERENCES products(id), requirement TEXT NOT NULL,
        status TEXT NOT NULL, reason TEXT NOT NULL, evidence TEXT NOT NULL, taken_at BIGINT NOT NULL)`,
      `CREATE INDEX cra_evidence_snapshots_req ON cra_evidence_snapshots(product_id, requirement, taken_at)`,
    ],
  },
  {
    // Issue #16 item 7: security testing records per release (Annex I Part II (3)).
    id: 903,
    name: "cra-test-records",
    statements: [
      `CREATE TABLE cra_test_records (
        id TEXT PRIMARY KEY, product_id TEXT NOT NULL REFERENCES products(id),
        release_id TEXT REFERENCES releases(id), kind TEXT NOT NULL, tool TEXT NOT NULL,
        outcome TEXT NOT NULL, summary TEXT NOT NULL, report TEXT, performed_at BIGINT NOT NULL,
        created_by TEXT, created_at BIGINT NOT NULL)`,
      `CREATE INDEX cra_test_records_product ON cra_test_records(product_id, performed_at)`,
    ],
  },
  {
    // Issue #16 item 5: published CSAF advisories (Annex I Part II (4), (8)).
    id: 904,
    name: "cra-advisories",
    statements: [
      `CREATE TABLE cra_advisories (
        id TEXT PRIMARY KEY, product_id TEXT NOT NULL REFERENCES products(id), tracking_id TEXT NOT NULL UNIQUE,
        release_id TEXT REFERENCES releases(id), vulnerabilities TEXT NOT NULL, document TEXT NOT NULL,
        sha512 TEXT NOT NULL, signature TEXT, published_at BIGINT NOT NULL, created_by TEXT)`,
      `CREATE TABLE cra_advisory_vulnerabilities (
        advisory_id TEXT NOT NULL REFERENCES cra_advisories(id), product_id TEXT NOT NULL,
        vulnerability TEXT NOT NULL, PRIMARY KEY (advisory_id, vulnerability))`,
      `CREATE INDEX cra_advisory_vulns ON cra_advisory_vulnerabilities(product_id, vulnerability)`,
    ],
  },
  {
    // Issue #16 item 4: Article 14 reportable events, the awareness log, submissions, reminders.
    id: 905,
    name: "cra-article14",
    statements: [
      `CREATE TABLE cra_events (
        id TEXT PRIMARY KEY, product_id TEXT NOT NULL REFERENCES products(id), kind TEXT NOT NULL,
        dedupe_key TEXT NOT NULL, vulnerability TEXT, title TEXT NOT NULL, summary TEXT NOT NULL,
        trigger_kind TEXT NOT NULL, status TEXT NOT NULL, aware_at BIGINT NOT NULL, corrective_at BIGINT,
        intermediate_requested_at BIGINT, malicious_suspected INTEGER, details TEXT NOT NULL,
        created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)`,
      `CREATE UNIQUE INDEX cra_events_dedupe ON cra_events(product_id, dedupe_key)`,
      `CREATE TABLE cra_event_findings (
        event_id TEXT NOT NULL REFERENCES cra_events(id), finding_id TEXT NOT NULL, linked_at BIGINT NOT NULL,
        PRIMARY KEY (event_id, finding_id))`,
      `CREATE TABLE cra_awareness_log (
        seq BIGINT PRIMARY KEY, event_id TEXT NOT NULL, at BIGINT NOT NULL, entry TEXT NOT NULL,
        prev_hash TEXT NOT NULL, hash TEXT NOT NULL, key_id TEXT NOT NULL, signature TEXT NOT NULL)`,
      `CREATE INDEX cra_awareness_event ON cra_awareness_log(event_id, seq)`,
      `CREATE TABLE cra_submissions (
        id TEXT PRIMARY KEY, event_id TEXT NOT NULL REFERENCES cra_events(id), stage TEXT NOT NULL,
        submitted_at BIGINT NOT NULL, submitted_by TEXT NOT NULL, csirt TEXT NOT NULL, reference TEXT NOT NULL,
        draft_sha256 TEXT NOT NULL, created_at BIGINT NOT NULL)`,
      `CREATE INDEX cra_submissions_event ON cra_submissions(event_id, stage)`,
      `CREATE TABLE cra_reminders (
        event_id TEXT NOT NULL REFERENCES cra_events(id), stage TEXT NOT NULL, threshold TEXT NOT NULL,
        sent_at BIGINT NOT NULL, PRIMARY KEY (event_id, stage, threshold))`,
    ],
  },
  {
    // Issue #16 item 6: reports received through the public intake (Annex I Part II (6)).
    id: 906,
    name: "cra-intake",
    statements: [
      `CREATE TABLE cra_intake_reports (
        id TEXT PRIMARY KEY, received_at BIGINT NOT NULL, product_hint TEXT, title TEXT NOT NULL,
        body TEXT NOT NULL, contact TEXT, encrypted INTEGER NOT NULL, state TEXT NOT NULL,
        event_id TEXT, note TEXT, updated_at BIGINT NOT NULL)`,
      `CREATE INDEX cra_intake_state ON cra_intake_reports(state, received_at)`,
    ],
  },
  {
    // The Article 14 watcher asks, per known-exploited finding, whether an event already links it.
    id: 907,
    name: "cra-event-findings-by-finding",
    statements: [`CREATE INDEX cra_event_findings_finding ON cra_event_findings(finding_id)`],
  },
  {
    // CRA Art. 14(8): the notice to users, sent in-band to each device running an affected version;
    // one delivery row per device (pending while offline, sent, acknowledged by the device).
    id: 920,
    name: "cra-user-notices",
    statements: [
      `CREATE TABLE cra_user_notices (
        id TEXT PRIMARY KEY, event_id TEXT NOT NULL REFERENCES cra_events(id), product_id TEXT NOT NULL,
        severity TEXT NOT NULL, title TEXT NOT NULL, text TEXT NOT NULL, action TEXT NOT NULL,
        advisory_urls TEXT NOT NULL, versions TEXT NOT NULL, created_by TEXT NOT NULL,
        created_at BIGINT NOT NULL)`,
      `CREATE INDEX cra_user_notices_event ON cra_user_notices(event_id, created_at)`,
      `CREATE TABLE cra_user_notice_deliveries (
        notice_id TEXT NOT NULL REFERENCES cra_user_notices(id), device_id TEXT NOT NULL,
        version TEXT, state TEXT NOT NULL, attempts INTEGER NOT NULL, sent_at BIGINT,
        acknowledged_at BIGINT, hook TEXT, PRIMARY KEY (notice_id, device_id))`,
      `CREATE INDEX cra_user_notice_deliveries_device ON cra_user_notice_deliveries(device_id, state)`,
    ],
  },
  {
    // CSAF 2.0 §6.2: the recommended-test warnings of the validator run at publication, kept and shown.
    id: 930,
    name: "cra-advisory-validation-warnings",
    statements: [`ALTER TABLE cra_advisories ADD COLUMN validation_warnings TEXT`],
  },
];
