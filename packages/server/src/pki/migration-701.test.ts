import assert from "node:assert/strict";
import { it } from "node:test";
import { storeBackends } from "../../test/store-fixtures.ts";
import { migrate } from "../store/migrate.ts";
import { migrations } from "../store/migrations.ts";
import type { Queryable } from "../store/store.ts";

/**
 * Migration 701 rebuilds `certificates` without the UNIQUE index on `fingerprint`: every row and
 * column survives, the serial stays the key, and the device and CA-status indexes are back.
 */
const COLUMNS = `serial, ca_id, device_id, subject, fingerprint, not_before, not_after, pem, status, revoked_at,
  revocation_reason, created_at`;

function certificateRow(serial: string, fingerprint: string, status: "valid" | "revoked") {
  return [
    serial,
    "ca-1",
    `device-${serial}`,
    `CN=device-${serial}`,
    fingerprint,
    1_700_000_000_000,
    1_800_000_000_000,
    `-----BEGIN CERTIFICATE-----\n${serial}\n-----END CERTIFICATE-----\n`,
    status,
    status === "revoked" ? 1_750_000_000_000 : null,
    status === "revoked" ? "keyCompromise" : null,
    1_700_000_000_001,
  ];
}

async function insertCertificate(tx: Queryable, row: unknown[]) {
  await tx.run(
    `INSERT INTO certificates (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    row as never,
  );
}

for (const backend of storeBackends)
  it(`migration 701 on ${backend.name} keeps every certificate row and drops only the fingerprint constraint`, async (ctx) => {
    const t = await backend.open(ctx, 700);
    if (!t) return;
    try {
      const rows = [
        certificateRow("0a01", "f".repeat(64), "valid"),
        certificateRow("0a02", "e".repeat(64), "revoked"),
      ];
      await t.store.transaction(async (tx) => {
        await tx.run(
          `INSERT INTO cas (id, name, role, algorithm, key_id, parent_id, cert_pem, fingerprint, status, created_at)
           VALUES ('ca-1', 'Device CA', 'device', 'ecdsa-p256', 'key-1', NULL, 'pem', 'fp', 'active', 1)`,
        );
        for (const row of rows) await insertCertificate(tx, row);
      });
      // Before 701 a second row with the same fingerprint is refused…
      await assert.rejects(
        t.store.transaction((tx) => insertCertificate(tx, certificateRow("0a03", "f".repeat(64), "valid"))),
        /UNIQUE constraint failed|duplicate key value/,
      );

      assert.deepEqual(
        await migrate(
          t.store,
          migrations.filter((m) => m.id <= 701),
        ),
        [701],
      );

      const after = await t.store.all<Record<string, unknown>>(
        `SELECT ${COLUMNS} FROM certificates ORDER BY serial`,
      );
      assert.deepEqual(
        after.map((r) => Object.values(r).map((v) => (typeof v === "bigint" ? Number(v) : v))),
        rows,
      );
      // …the serial is still the key, the lookups by device and by CA status still answer…
      await assert.rejects(
        t.store.transaction((tx) => insertCertificate(tx, certificateRow("0a01", "d".repeat(64), "valid"))),
        /UNIQUE constraint failed|duplicate key value/,
      );
      const byDevice = await t.store.get<{ serial: string }>(
        `SELECT serial FROM certificates WHERE device_id = ?`,
        ["device-0a02"],
      );
      assert.equal(byDevice?.serial, "0a02");
      const revoked = await t.store.all<{ serial: string }>(
        `SELECT serial FROM certificates WHERE ca_id = ? AND status = 'revoked'`,
        ["ca-1"],
      );
      assert.deepEqual(
        revoked.map((r) => r.serial),
        ["0a02"],
      );
      // …and the fingerprint no longer carries its own unique index.
      await t.store.transaction((tx) =>
        insertCertificate(tx, certificateRow("0a03", "f".repeat(64), "valid")),
      );
    } finally {
      await t.close();
    }
  });
