/**
 * Forward-only schema migrations shared by every `Store` implementation. Append new entries;
 * never edit or reorder applied ones (the runner refuses a database that is ahead of the code).
 */
import type { Migration } from "./migration.ts";
import { pemCertificatesToDer } from "./migration-823.ts";
import { TRANSFER_MIGRATION } from "./migration-870.ts";
import { TRANSFER_RESEND_MIGRATION } from "./migration-975.ts";
import { craMigrations } from "./migrations-cra.ts";
import { UPDATES_MIGRATIONS } from "./migrations-updates.ts";

export type { Migration };

export const migrations: Migration[] = [
  {
    id: 1,
    name: "foundation",
    statements: [
      `CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
      `CREATE TABLE cas (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, algorithm TEXT NOT NULL,
        key_id TEXT NOT NULL, parent_id TEXT, cert_pem TEXT NOT NULL, fingerprint TEXT NOT NULL,
        status TEXT NOT NULL, created_at BIGINT NOT NULL)`,
      `CREATE TABLE device_groups (
        id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, provisioning_policy TEXT NOT NULL,
        created_at BIGINT NOT NULL)`,
      `CREATE TABLE devices (
        id TEXT PRIMARY KEY, group_id TEXT NOT NULL REFERENCES device_groups(id), status TEXT NOT NULL,
        enrolled_via TEXT NOT NULL, metadata TEXT NOT NULL, dropped_fields BIGINT NOT NULL DEFAULT 0,
        online INTEGER NOT NULL DEFAULT 0, last_seen_at BIGINT, created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL)`,
      `CREATE INDEX devices_group ON devices(group_id)`,
      `CREATE TABLE certificates (
        serial TEXT PRIMARY KEY, ca_id TEXT NOT NULL REFERENCES cas(id), device_id TEXT, subject TEXT NOT NULL,
        fingerprint TEXT NOT NULL UNIQUE, not_before BIGINT NOT NULL, not_after BIGINT NOT NULL,
        pem TEXT NOT NULL, status TEXT NOT NULL, revoked_at BIGINT, revocation_reason TEXT,
        created_at BIGINT NOT NULL)`,
      `CREATE INDEX certificates_device ON certificates(device_id)`,
      `CREATE TABLE enrolment_tokens (
        id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, group_id TEXT NOT NULL REFERENCES device_groups(id),
        max_uses INTEGER NOT NULL, uses INTEGER NOT NULL DEFAULT 0, expires_at BIGINT NOT NULL,
        created_by TEXT NOT NULL, created_at BIGINT NOT NULL)`,
      `CREATE TABLE users (
        id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL, role TEXT NOT NULL,
        must_change_password INTEGER NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)`,
      `CREATE TABLE api_keys (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, owner_id TEXT NOT NULL REFERENCES users(id),
        secret_hash TEXT NOT NULL, role TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT,
        last_used_at BIGINT, revoked_at BIGINT)`,
    ],
  },
  {
    id: 2,
    name: "audit-log",
    statements: [
      `CREATE TABLE audit_head (id INTEGER PRIMARY KEY, seq BIGINT NOT NULL, hash TEXT NOT NULL)`,
      `INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '${"0".repeat(64)}')`,
      `CREATE TABLE audit_log (
        seq BIGINT PRIMARY KEY, at BIGINT NOT NULL, actor_type TEXT NOT NULL, actor_id TEXT,
        action TEXT NOT NULL, target_type TEXT, target_id TEXT, outcome TEXT NOT NULL, details TEXT NOT NULL,
        prev_hash TEXT NOT NULL, hash TEXT NOT NULL)`,
      `CREATE INDEX audit_log_at ON audit_log(at)`,
    ],
  },
  {
    id: 300,
    name: "access-and-audit",
    statements: [
      `CREATE TABLE products (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_at BIGINT NOT NULL)`,
      `CREATE TABLE role_assignments (
        id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id), role TEXT NOT NULL,
        product_id TEXT REFERENCES products(id), created_by TEXT NOT NULL, created_at BIGINT NOT NULL)`,
      `CREATE INDEX role_assignments_user ON role_assignments(user_id)`,
      `ALTER TABLE users ADD COLUMN oidc_subject TEXT`,
      `ALTER TABLE api_keys ADD COLUMN permissions TEXT`,
      `CREATE TABLE sessions (
        id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, user_id TEXT NOT NULL REFERENCES users(id),
        via TEXT NOT NULL, created_at BIGINT NOT NULL, last_seen_at BIGINT NOT NULL, expires_at BIGINT NOT NULL,
        revoked_at BIGINT, remote_address TEXT, user_agent TEXT)`,
      `CREATE INDEX sessions_user ON sessions(user_id)`,
      `CREATE TABLE user_totp (
        user_id TEXT PRIMARY KEY REFERENCES users(id), secret_sealed TEXT NOT NULL, enabled INTEGER NOT NULL,
        last_step BIGINT NOT NULL, created_at BIGINT NOT NULL)`,
      `CREATE TABLE recovery_codes (
        id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id), code_mac TEXT NOT NULL,
        used_at BIGINT, created_at BIGINT NOT NULL)`,
      `CREATE INDEX recovery_codes_user ON recovery_codes(user_id)`,
      `CREATE TABLE sign_in_failures (
        account TEXT PRIMARY KEY, failures INTEGER NOT NULL, locked_until BIGINT, updated_at BIGINT NOT NULL)`,
      `CREATE TABLE notifications (
        id TEXT PRIMARY KEY, at BIGINT NOT NULL, kind TEXT NOT NULL, severity TEXT NOT NULL,
        message TEXT NOT NULL, details TEXT NOT NULL)`,
      `CREATE INDEX notifications_at ON notifications(at)`,
      `CREATE TABLE audit_checkpoints (
        seq BIGINT PRIMARY KEY, hash TEXT NOT NULL, at BIGINT NOT NULL, key_id TEXT NOT NULL,
        signature TEXT NOT NULL)`,
      `CREATE TABLE operator_certificates (
        serial TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id), created_by TEXT NOT NULL,
        created_at BIGINT NOT NULL)`,
      `CREATE TABLE oidc_logins (
        state_hash TEXT PRIMARY KEY, sealed TEXT NOT NULL, expires_at BIGINT NOT NULL)`,
    ],
  },
  {
    id: 400,
    name: "pki-revocation-and-provisioning",
    statements: [
      `CREATE INDEX certificates_ca_status ON certificates(ca_id, status)`,
      `CREATE TABLE crls (
        ca_id TEXT PRIMARY KEY REFERENCES cas(id), crl_number BIGINT NOT NULL, this_update BIGINT NOT NULL,
        next_update BIGINT NOT NULL, der TEXT NOT NULL)`,
      `CREATE TABLE ca_requests (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, algorithm TEXT NOT NULL, key_id TEXT NOT NULL,
        csr_pem TEXT NOT NULL, status TEXT NOT NULL, created_at BIGINT NOT NULL)`,
      `CREATE TABLE registered_devices (
        serial_number TEXT PRIMARY KEY, group_id TEXT NOT NULL REFERENCES device_groups(id),
        secret_hash TEXT NOT NULL, device_id TEXT, created_at BIGINT NOT NULL, enrolled_at BIGINT)`,
      `CREATE TABLE claim_cas (
        id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, group_id TEXT NOT NULL REFERENCES device_groups(id),
        cert_pem TEXT NOT NULL, fingerprint TEXT NOT NULL UNIQUE, created_at BIGINT NOT NULL)`,
      `CREATE TABLE device_claims (
        claim_fingerprint TEXT PRIMARY KEY, claim_ca_id TEXT NOT NULL REFERENCES claim_cas(id),
        device_id TEXT NOT NULL, created_at BIGINT NOT NULL)`,
    ],
  },
  {
    id: 500,
    name: "fleet-registry-policies-incidents",
    statements: [
      `ALTER TABLE devices ADD COLUMN serial TEXT`,
      `ALTER TABLE devices ADD COLUMN product TEXT`,
      `ALTER TABLE devices ADD COLUMN status_reason TEXT`,
      `ALTER TABLE devices ADD COLUMN status_changed_at BIGINT`,
      `ALTER TABLE devices ADD COLUMN config_policy TEXT`,
      `ALTER TABLE devices ADD COLUMN config_version INTEGER`,
      `ALTER TABLE devices ADD COLUMN config_acked_at BIGINT`,
      `ALTER TABLE devices ADD COLUMN event_logging TEXT NOT NULL DEFAULT 'on'`,
      `ALTER TABLE devices ADD COLUMN pending_wipe_id TEXT`,
      `ALTER TABLE devices ADD COLUMN dropped_reports BIGINT NOT NULL DEFAULT 0`,
      `CREATE INDEX devices_status ON devices(status)`,
      `CREATE INDEX devices_last_seen ON devices(last_seen_at)`,
      `CREATE TABLE device_policies (
        name TEXT NOT NULL, version INTEGER NOT NULL, settings TEXT NOT NULL, created_by TEXT,
        created_at BIGINT NOT NULL, PRIMARY KEY (name, version))`,
      `ALTER TABLE device_groups ADD COLUMN policy_name TEXT`,
      `CREATE TABLE device_security_events (
        id TEXT PRIMARY KEY, device_id TEXT NOT NULL, kind TEXT NOT NULL, occurred_at BIGINT NOT NULL,
        received_at BIGINT NOT NULL, detail TEXT)`,
      `CREATE INDEX device_security_events_device ON device_security_events(device_id, received_at)`,
      `CREATE INDEX device_security_events_received ON device_security_events(received_at)`,
    ],
  },
  {
    id: 600,
    name: "cra-releases",
    statements: [
      // \`products\` comes from migration 300.
      `CREATE TABLE releases (
        id TEXT PRIMARY KEY, product_id TEXT NOT NULL REFERENCES products(id), version TEXT NOT NULL,
        classification TEXT NOT NULL, created_at BIGINT NOT NULL, UNIQUE (product_id, version))`,
    ],
  },
  {
    id: 601,
    name: "software-trust",
    statements: [
      `CREATE TABLE sboms (
        id TEXT PRIMARY KEY, release_id TEXT NOT NULL REFERENCES releases(id), format TEXT NOT NULL,
        spec_version TEXT NOT NULL, document_id TEXT, name TEXT, sha256 TEXT NOT NULL, components INTEGER NOT NULL,
        minimum_elements TEXT NOT NULL, ntia_conforms INTEGER NOT NULL, bsi_conforms INTEGER NOT NULL,
        created_at BIGINT NOT NULL)`,
      `CREATE INDEX sboms_release ON sboms(release_id)`,
      `CREATE TABLE sbom_components (
        sbom_id TEXT NOT NULL REFERENCES sboms(id), release_id TEXT NOT NULL, ref TEXT NOT NULL, parent_ref TEXT,
        name TEXT NOT NULL, version TEXT, purl TEXT, ecosystem TEXT, package_name TEXT, package_key TEXT,
        PRIMARY KEY (sbom_id, ref))`,
      `CREATE INDEX sbom_components_package ON sbom_components(package_key)`,
      `CREATE INDEX sbom_components_release ON sbom_components(release_id)`,
      `CREATE TABLE vulnerabilities (
        id TEXT PRIMARY KEY, canonical_id TEXT NOT NULL, modified TEXT NOT NULL, withdrawn TEXT, published TEXT,
        summary TEXT, severity TEXT NOT NULL, score_tenths INTEGER, cvss_vector TEXT, record TEXT NOT NULL,
        imported_at BIGINT NOT NULL)`,
      `CREATE INDEX vulnerabilities_canonical ON vulnerabilities(canonical_id)`,
      `CREATE TABLE vulnerability_aliases (alias TEXT NOT NULL, vuln_id TEXT NOT NULL, PRIMARY KEY (alias, vuln_id))`,
      `CREATE INDEX vulnerability_aliases_vuln ON vulnerability_aliases(vuln_id)`,
      `CREATE TABLE vulnerability_packages (
        vuln_id TEXT NOT NULL, package_key TEXT NOT NULL, PRIMARY KEY (vuln_id, package_key))`,
      `CREATE INDEX vulnerability_packages_key ON vulnerability_packages(package_key)`,
      `CREATE TABLE known_exploited (
        cve_id TEXT PRIMARY KEY, date_added TEXT NOT NULL, due_date TEXT NOT NULL, vendor_project TEXT NOT NULL,
        product TEXT NOT NULL, vulnerability_name TEXT NOT NULL, ransomware TEXT NOT NULL, imported_at BIGINT NOT NULL)`,
      `CREATE TABLE findings (
        id TEXT PRIMARY KEY, release_id TEXT NOT NULL REFERENCES releases(id), vuln_id TEXT NOT NULL,
        purl TEXT NOT NULL, package_key TEXT NOT NULL, component_name TEXT NOT NULL, component_version TEXT NOT NULL,
        advisory_ids TEXT NOT NULL, summary TEXT, severity TEXT NOT NULL, score_tenths INTEGER,
        fixed_versions TEXT NOT NULL, known_exploited INTEGER NOT NULL, article14_candidate INTEGER NOT NULL,
        status TEXT NOT NULL, resolution TEXT, triage_state TEXT NOT NULL, triage TEXT,
        triage_source TEXT, triaged_at BIGINT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
        resolved_at BIGINT, UNIQUE (vuln_id, purl, release_id))`,
      `CREATE INDEX findings_package ON findings(package_key)`,
      `CREATE INDEX findings_release ON findings(release_id)`,
      `CREATE TABLE webhooks (
        id TEXT PRIMARY KEY, url TEXT NOT NULL, secret_sealed TEXT NOT NULL, events TEXT NOT NULL,
        active INTEGER NOT NULL, created_at BIGINT NOT NULL)`,
      `CREATE TABLE webhook_deliveries (
        id TEXT PRIMARY KEY, webhook_id TEXT NOT NULL REFERENCES webhooks(id), event_type TEXT NOT NULL,
        payload TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL, next_attempt_at BIGINT NOT NULL,
        last_status INTEGER, last_error TEXT, created_at BIGINT NOT NULL, delivered_at BIGINT)`,
      `CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at)`,
      `CREATE TABLE signing_keys (
        id TEXT PRIMARY KEY, label TEXT NOT NULL UNIQUE, ecdsa_key_id TEXT NOT NULL, mldsa_key_id TEXT NOT NULL,
        public_pem TEXT NOT NULL, created_at BIGINT NOT NULL)`,
      `CREATE TABLE release_signatures (
        id TEXT PRIMARY KEY, signing_key_id TEXT NOT NULL REFERENCES signing_keys(id), artifact_name TEXT NOT NULL,
        sha256 TEXT NOT NULL, sha512 TEXT NOT NULL, size BIGINT NOT NULL, signature TEXT NOT NULL,
        created_at BIGINT NOT NULL)`,
    ],
  },
  {
    id: 602,
    name: "findings-by-match",
    // A finding row held every matched value (advisories, summary, severity, fixed versions, the
    // component) once per release, so a full re-match wrote ~600 bytes and four index entries per
    // release × vulnerability × component. Now the values are stored once per (component purl,
    // vulnerability) match (`finding_matches` → content-addressed `finding_details`), and a finding
    // row is what is per release: status, triage, Art. 14 flag, timestamps. Its key `n` is
    // match_no × 2^24 + release_no, so a match's findings are one key range. Existing findings keep
    // their ids (`legacy_id`); new ones get ids composed from their release's prefix and match number.
    statements: [
      `CREATE TABLE software_counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)`,
      `CREATE TABLE release_keys (
        release_id TEXT PRIMARY KEY REFERENCES releases(id), release_no INTEGER NOT NULL UNIQUE,
        id_prefix TEXT NOT NULL UNIQUE)`,
      // Existing releases (random v4 UUIDs): the prefix is the release id's first 26 characters,
      // version nibble set to 8 (RFC 9562 §5.8); new releases get a random prefix.
      `INSERT INTO release_keys (release_id, release_no, id_prefix)
        SELECT id, ROW_NUMBER() OVER (ORDER BY created_at, id), substr(id, 1, 14) || '8' || substr(id, 16, 11)
        FROM releases`,
      `INSERT INTO software_counters (name, value) SELECT 'release', COALESCE(MAX(release_no), 0) FROM release_keys`,
      `CREATE TABLE component_purls (
        purl TEXT PRIMARY KEY, package_key TEXT NOT NULL, ecosystem TEXT, package_name TEXT, name TEXT NOT NULL,
        version TEXT NOT NULL)`,
      `CREATE INDEX component_purls_package ON component_purls(package_key)`,
      `INSERT INTO component_purls (purl, package_key, ecosystem, package_name, name, version)
        SELECT purl, MIN(package_key), MIN(ecosystem), MIN(package_name), MIN(name), MIN(version)
        FROM sbom_components WHERE purl IS NOT NULL AND package_key IS NOT NULL AND version IS NOT NULL
        GROUP BY purl`,
      `INSERT INTO component_purls (purl, package_key, name, version)
        SELECT purl, MIN(package_key), MIN(component_name), MIN(component_version) FROM findings f
        WHERE NOT EXISTS (SELECT 1 FROM component_purls p WHERE p.purl = f.purl) GROUP BY purl`,
      `CREATE TABLE release_components (
        purl TEXT NOT NULL, release_no INTEGER NOT NULL, PRIMARY KEY (purl, release_no))`,
      `INSERT INTO release_components (purl, release_no)
        SELECT c.purl, k.release_no FROM sbom_components c JOIN release_keys k ON k.release_id = c.release_id
        WHERE c.purl IS NOT NULL AND c.package_key IS NOT NULL AND c.version IS NOT NULL
        UNION SELECT f.purl, k.release_no FROM findings f JOIN release_keys k ON k.release_id = f.release_id`,
      `CREATE TABLE finding_details (
        detail_no INTEGER PRIMARY KEY, content_key TEXT NOT NULL UNIQUE, advisory_ids TEXT NOT NULL, summary TEXT,
        severity TEXT NOT NULL, score_tenths INTEGER, fixed_versions TEXT NOT NULL, known_exploited INTEGER NOT NULL)`,
      `CREATE TABLE finding_matches (
        match_no INTEGER PRIMARY KEY, purl TEXT NOT NULL, vuln_id TEXT NOT NULL,
        detail_no INTEGER NOT NULL REFERENCES finding_details(detail_no), live INTEGER NOT NULL, UNIQUE (purl, vuln_id))`,
      `CREATE TABLE finding_groups_602 AS SELECT ROW_NUMBER() OVER (ORDER BY purl, vuln_id) AS match_no, purl, vuln_id
        FROM (SELECT DISTINCT purl, vuln_id FROM findings) g`,
      // Each existing match keeps the values of its most recently updated finding.
      `INSERT INTO finding_details (detail_no, content_key, advisory_ids, summary, severity, score_tenths, fixed_versions,
        known_exploited)
        SELECT g.match_no, 'legacy:' || g.match_no, f.advisory_ids, f.summary, f.severity, f.score_tenths, f.fixed_versions,
          f.known_exploited
        FROM finding_groups_602 g JOIN findings f ON f.id = (SELECT f2.id FROM findings f2
          WHERE f2.purl = g.purl AND f2.vuln_id = g.vuln_id ORDER BY f2.updated_at DESC, f2.id LIMIT 1)`,
      `INSERT INTO finding_matches (match_no, purl, vuln_id, detail_no, live)
        SELECT g.match_no, g.purl, g.vuln_id, g.match_no, CASE WHEN EXISTS (SELECT 1 FROM findings f
          WHERE f.purl = g.purl AND f.vuln_id = g.vuln_id AND f.status = 'open') THEN 1 ELSE 0 END
        FROM finding_groups_602 g`,
      `INSERT INTO software_counters (name, value) SELECT 'match', COALESCE(MAX(match_no), 0) FROM finding_matches`,
      `INSERT INTO software_counters (name, value) SELECT 'detail', COALESCE(MAX(detail_no), 0) FROM finding_details`,
      `CREATE TABLE findings_602 (
        n BIGINT PRIMARY KEY, match_no INTEGER NOT NULL, release_no INTEGER NOT NULL, legacy_id TEXT,
        status TEXT NOT NULL, resolution TEXT, triage_state TEXT NOT NULL, triage TEXT, triage_source TEXT,
        triaged_at BIGINT, article14_candidate INTEGER NOT NULL, created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL, resolved_at BIGINT)`,
      `INSERT INTO findings_602 (n, match_no, release_no, legacy_id, status, resolution, triage_state, triage,
        triage_source, triaged_at, article14_candidate, created_at, updated_at, resolved_at)
        SELECT CAST(g.match_no AS BIGINT) * 16777216 + k.release_no, g.match_no, k.release_no, f.id, f.status, f.resolution, f.triage_state,
          f.triage, f.triage_source, f.triaged_at, f.article14_candidate, f.created_at, f.updated_at, f.resolved_at
        FROM findings f JOIN finding_groups_602 g ON g.purl = f.purl AND g.vuln_id = f.vuln_id
        JOIN release_keys k ON k.release_id = f.release_id`,
      `DROP TABLE finding_groups_602`,
      `DROP TABLE findings`,
      `ALTER TABLE findings_602 RENAME TO findings`,
      `CREATE UNIQUE INDEX findings_legacy_id ON findings(legacy_id) WHERE legacy_id IS NOT NULL`,
      `CREATE INDEX findings_triaged ON findings(match_no) WHERE triaged_at IS NOT NULL`,
    ],
  },
  {
    // Issue #5 (scale-out): which server process holds a device's session, and each process's
    // heartbeat, so the devices of a process that died are shown offline by the others.
    id: 700,
    name: "fleet-presence-owner",
    statements: [
      `ALTER TABLE devices ADD COLUMN connected_to TEXT`,
      `CREATE INDEX devices_connected_to ON devices(connected_to)`,
      `CREATE TABLE server_instances (
        id TEXT PRIMARY KEY, started_at BIGINT NOT NULL, heartbeat_at BIGINT NOT NULL)`,
    ],
  },
  {
    // Issue #4 (issuance rate): the UNIQUE index on certificates.fingerprint was never read and
    // duplicated what the serial key already guarantees (a distinct serial gives distinct DER, so a
    // distinct SHA-256), while each issuance wrote a random page of it. The table is rebuilt
    // without it (portable: SQLite cannot drop a column constraint in place).
    id: 701,
    name: "certificates-drop-fingerprint-unique",
    statements: [
      `CREATE TABLE certificates_rebuilt (
        serial TEXT PRIMARY KEY, ca_id TEXT NOT NULL REFERENCES cas(id), device_id TEXT, subject TEXT NOT NULL,
        fingerprint TEXT NOT NULL, not_before BIGINT NOT NULL, not_after BIGINT NOT NULL,
        pem TEXT NOT NULL, status TEXT NOT NULL, revoked_at BIGINT, revocation_reason TEXT,
        created_at BIGINT NOT NULL)`,
      `INSERT INTO certificates_rebuilt (serial, ca_id, device_id, subject, fingerprint, not_before, not_after,
        pem, status, revoked_at, revocation_reason, created_at)
        SELECT serial, ca_id, device_id, subject, fingerprint, not_before, not_after,
        pem, status, revoked_at, revocation_reason, created_at FROM certificates`,
      `DROP TABLE certificates`,
      `ALTER TABLE certificates_rebuilt RENAME TO certificates`,
      `CREATE INDEX certificates_device ON certificates(device_id)`,
      `CREATE INDEX certificates_ca_status ON certificates(ca_id, status)`,
    ],
  },
  {
    // Software trust: a row whose lock every monitor flow (SBOM upload, OSV or KEV import) takes
    // first, so on PostgreSQL concurrent flows run one after another instead of both numbering and
    // inserting the same release key or match and the second failing on the unique key.
    id: 800,
    name: "software-monitor-lock",
    statements: [`INSERT INTO software_counters (name, value) VALUES ('monitor', 0)`],
  },
  {
    // Webhooks subscribed to `finding.known-exploited` also hear when a finding loses it (a KEV
    // removal): a subscriber told of the flag must be told of its end, or its view goes stale.
    // `events` is the JSON array written by createWebhook, each name quoted exactly once.
    id: 820,
    name: "webhooks-known-exploited-removed",
    statements: [
      `UPDATE webhooks SET events = REPLACE(events, '"finding.known-exploited"',
        '"finding.known-exploited","finding.known-exploited-removed"')
        WHERE events LIKE '%"finding.known-exploited"%' AND events NOT LIKE '%"finding.known-exploited-removed"%'`,
    ],
  },
  {
    // The last KEV catalogue imported (one row): an import is the complete list, so an older
    // catalogue would silently drop every entry added since; it is refused instead.
    id: 821,
    name: "kev-catalog",
    statements: [
      `CREATE TABLE kev_catalog (
        id INTEGER PRIMARY KEY, catalog_version TEXT NOT NULL, date_released TEXT NOT NULL,
        released_at BIGINT NOT NULL, entries INTEGER NOT NULL, imported_at BIGINT NOT NULL)`,
    ],
  },
  {
    // Devices enrolled with a pre-registered serial number before enrolment kept it: the serial
    // they enrolled with becomes their hardware serial, unless an operator already set one.
    id: 822,
    name: "devices-registered-serial",
    statements: [
      `UPDATE devices SET serial = (SELECT r.serial_number FROM registered_devices r WHERE r.device_id = devices.id)
        WHERE serial IS NULL AND EXISTS (SELECT 1 FROM registered_devices r WHERE r.device_id = devices.id)`,
    ],
  },
  {
    // Issue #4 (issuance rate): certificates are stored as DER (BYTEA; a BLOB in SQLite) instead of
    // PEM text, ~30 % fewer bytes a row to write and no base64 per issuance; PEM is made on read.
    // Each stored PEM is decoded and checked against its SHA-256 fingerprint before the PEM column
    // goes: a row that does not match stops the migration (nothing changes) and names its serial.
    id: 823,
    name: "certificates-der",
    statements: [
      `ALTER TABLE certificates ADD COLUMN der BYTEA`,
      pemCertificatesToDer,
      `CREATE TABLE certificates_rebuilt (
        serial TEXT PRIMARY KEY, ca_id TEXT NOT NULL REFERENCES cas(id), device_id TEXT, subject TEXT NOT NULL,
        fingerprint TEXT NOT NULL, not_before BIGINT NOT NULL, not_after BIGINT NOT NULL,
        der BYTEA NOT NULL, status TEXT NOT NULL, revoked_at BIGINT, revocation_reason TEXT,
        created_at BIGINT NOT NULL)`,
      `INSERT INTO certificates_rebuilt (serial, ca_id, device_id, subject, fingerprint, not_before, not_after,
        der, status, revoked_at, revocation_reason, created_at)
        SELECT serial, ca_id, device_id, subject, fingerprint, not_before, not_after,
        der, status, revoked_at, revocation_reason, created_at FROM certificates`,
      `DROP TABLE certificates`,
      `ALTER TABLE certificates_rebuilt RENAME TO certificates`,
      `CREATE INDEX certificates_device ON certificates(device_id)`,
      `CREATE INDEX certificates_ca_status ON certificates(ca_id, status)`,
    ],
  },
  {
    // Issue #13: the OIDC settings, the second-factor policy and the rate limits moved from
    // `policies:write` to the admin-only `auth-settings:manage`. A key whose list held
    // `policies:write` could change them, so it keeps that: at use a key is narrowed to what its
    // owner holds now, so only keys of administrators can still use it. `permissions` is the sorted
    // JSON array written by createApiKey, each name quoted exactly once.
    id: 832,
    name: "api-keys-auth-settings",
    statements: [
      `UPDATE api_keys SET permissions = REPLACE(permissions, '"policies:write"',
        '"auth-settings:manage","policies:write"')
        WHERE permissions LIKE '%"policies:write"%' AND permissions NOT LIKE '%"auth-settings:manage"%'`,
    ],
  },
  {
    // Issue #13: when a key's use was last recorded (`api-key.use`, hourly), claimed by a
    // conditional update so parallel requests record it once. It was decided from `last_used_at`
    // as read before the request's own stamp: parallel first uses each recorded one, and a key in
    // steady use (a gap never reaching an hour) was never recorded again. Starts at the last use.
    id: 833,
    name: "api-keys-use-recorded-at",
    statements: [
      `ALTER TABLE api_keys ADD COLUMN use_recorded_at BIGINT`,
      `UPDATE api_keys SET use_recorded_at = last_used_at`,
    ],
  },
  {
    // Issue #13 (6): a renewed certificate records the certificate it was renewed from, so a
    // revocation for keyCompromise follows the chain to every certificate renewed from it.
    id: 850,
    name: "certificates-renewed-from",
    statements: [
      `ALTER TABLE certificates ADD COLUMN renewed_from TEXT`,
      `CREATE INDEX certificates_renewed_from ON certificates(renewed_from)`,
    ],
  },
  TRANSFER_MIGRATION,
  // Issue #15: secure updates (ids 880–899).
  ...UPDATES_MIGRATIONS,
  // Issue #16: the CRA domain (ids 900–919).
  ...craMigrations,
  {
    // Issue #16 item 8: each SBOM as uploaded, content-addressed by the SHA-256 its `sboms` rows
    // already carry (one copy for identical uploads), gzip-compressed when large
    // (software/sbom-raw.ts). SBOMs stored before have no row here: their originals were not kept.
    id: 925,
    name: "sbom-raw",
    statements: [
      `CREATE TABLE sbom_raw (
        sha256 TEXT PRIMARY KEY, bytes BIGINT NOT NULL, encoding TEXT NOT NULL, content BYTEA NOT NULL,
        created_at BIGINT NOT NULL)`,
    ],
  },
  {
    // Issue #15 follow-up: a security event carries its id on the device (wire/reports.ts), unique
    // per device, so one re-sent after a lost PUBACK (QoS 1 is at-least-once, MQTT 3.1.1 / 5
    // §4.3.2) is stored once. NULLs are distinct in a unique index (PostgreSQL and SQLite): events
    // of older agents, without an id, are all kept.
    id: 960,
    name: "device-security-events-device-id",
    statements: [
      `ALTER TABLE device_security_events ADD COLUMN device_event_id TEXT`,
      `CREATE UNIQUE INDEX device_security_events_device_event ON device_security_events(device_id, device_event_id)`,
    ],
  },
  TRANSFER_RESEND_MIGRATION,
  {
    // Issue #15 item 10: the binary delta formats the device's agent applies, as it advertised them
    // in its metadata (`deltaFormats`, a JSON array of format names), written with each metadata
    // report; NULL when its agent advertises none (an older agent: taken to know `zstd-dict` only).
    // The rollout sends a deployment that requires a delta only to devices that apply its format.
    id: 980,
    name: "devices-delta-formats",
    statements: [`ALTER TABLE devices ADD COLUMN delta_formats TEXT`],
  },
];
