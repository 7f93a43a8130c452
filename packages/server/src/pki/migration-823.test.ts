import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { it } from "node:test";
import { sha256Fingerprint } from "@bulwark/sdk/fingerprint";
import { toPem } from "@bulwark/sdk/pem";
import { generateKeyPair, spkiOf } from "@bulwark/sdk/x509/algorithms";
import { buildCertificate, keySigner } from "@bulwark/sdk/x509/certificate";
import { commonNameOnly } from "@bulwark/sdk/x509/name";
import { storeBackends } from "../../test/store-fixtures.ts";
import { migrate } from "../store/migrate.ts";
import { migrations } from "../store/migrations.ts";
import type { Queryable } from "../store/store.ts";
import { storedCertificate } from "./stored-certificate.ts";

/**
 * Migration 823 stores certificates as DER instead of PEM: every row keeps its values, `der` holds
 * exactly the bytes the PEM encoded (checked against the fingerprint), and a row whose PEM does not
 * match its fingerprint stops the migration with its serial named and the database unchanged.
 */
const KEPT = `serial, ca_id, device_id, subject, fingerprint, not_before, not_after, status, revoked_at,
  revocation_reason, created_at`;

const keys = generateKeyPair("ecdsa-p256");

function certificate(serial: string): Buffer {
  return buildCertificate(
    {
      serial: Buffer.from(serial, "hex"),
      issuerDer: commonNameOnly("Migration CA"),
      subjectDer: commonNameOnly(`device ${serial}`),
      notBefore: new Date(1_700_000_000_000),
      notAfter: new Date(1_800_000_000_000),
      spki: spkiOf(keys.publicKey),
      extensions: [],
    },
    keySigner("ecdsa-p256", keys.privateKey),
  );
}

function row(serial: string, status: "valid" | "revoked", der = certificate(serial)) {
  return {
    der,
    values: [
      serial,
      "ca-1",
      `device-${serial}`,
      `CN=device-${serial}`,
      sha256Fingerprint(der),
      1_700_000_000_000,
      1_800_000_000_000,
      toPem("CERTIFICATE", der),
      status,
      status === "revoked" ? 1_750_000_000_000 : null,
      status === "revoked" ? "keyCompromise" : null,
      1_700_000_000_001,
    ],
  };
}

async function insert(tx: Queryable, values: unknown[]) {
  await tx.run(
    `INSERT INTO certificates (serial, ca_id, device_id, subject, fingerprint, not_before, not_after, pem, status,
      revoked_at, revocation_reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    values as never,
  );
}

const withoutPem = (values: unknown[]) => [...values.slice(0, 7), ...values.slice(8)];
const plain = (r: Record<string, unknown>) =>
  Object.values(r).map((v) => (typeof v === "bigint" ? Number(v) : v));

async function seedCa(tx: Queryable) {
  await tx.run(
    `INSERT INTO cas (id, name, role, algorithm, key_id, parent_id, cert_pem, fingerprint, status, created_at)
     VALUES ('ca-1', 'Device CA', 'device', 'ecdsa-p256', 'key-1', NULL, 'pem', 'fp', 'active', 1)`,
  );
}

for (const backend of storeBackends) {
  it(`migration 823 on ${backend.name} turns every stored PEM into its DER and keeps the other columns`, async (ctx) => {
    const t = await backend.open(ctx, 822);
    if (!t) return;
    try {
      // More rows than one conversion page (1,000), so the paging is exercised.
      const rows = Array.from({ length: 1203 }, (_, i) =>
        row(`0a${(i + 1).toString(16).padStart(4, "0")}`, i % 7 === 0 ? "revoked" : "valid"),
      );
      await t.store.transaction(async (tx) => {
        await seedCa(tx);
        for (const r of rows) await insert(tx, r.values);
      });

      assert.deepEqual(
        await migrate(
          t.store,
          migrations.filter((m) => m.id <= 823),
        ),
        [823],
      );

      const after = await t.store.all<Record<string, unknown>>(
        `SELECT ${KEPT} FROM certificates ORDER BY serial`,
      );
      assert.deepEqual(
        after.map(plain),
        rows.map((r) => withoutPem(r.values)),
      );
      for (const r of [rows[0]!, rows[1000]!, rows[1202]!]) {
        const stored = await storedCertificate(t.store, r.values[0] as string);
        assert.ok(stored);
        assert.ok(stored.der.equals(r.der));
        assert.equal(stored.pem, r.values[7]);
      }
      const columns = Object.keys(
        (await t.store.get<Record<string, unknown>>(`SELECT * FROM certificates LIMIT 1`))!,
      );
      assert.ok(columns.includes("der") && !columns.includes("pem"));
      // The lookups by device and by CA status still answer.
      const revoked = await t.store.all<{ serial: string }>(
        `SELECT serial FROM certificates WHERE ca_id = ? AND status = 'revoked' ORDER BY serial`,
        ["ca-1"],
      );
      assert.equal(revoked.length, rows.filter((r) => r.values[8] === "revoked").length);
      const byDevice = await t.store.get<{ serial: string }>(
        `SELECT serial FROM certificates WHERE device_id = ?`,
        ["device-0a0002"],
      );
      assert.equal(byDevice?.serial, "0a0002");
    } finally {
      await t.close();
    }
  });

  it(`migration 823 on ${backend.name} stops at a PEM that does not match its fingerprint and changes nothing`, async (ctx) => {
    const t = await backend.open(ctx, 822);
    if (!t) return;
    try {
      const good = row("0b01", "valid");
      const bad = row("0b02", "valid");
      bad.values[7] = toPem("CERTIFICATE", randomBytes(300)); // not the certificate its fingerprint names
      await t.store.transaction(async (tx) => {
        await seedCa(tx);
        await insert(tx, good.values);
        await insert(tx, bad.values);
      });

      await assert.rejects(migrate(t.store, migrations), /certificate 0b02 is not one PEM certificate/);

      const applied = await t.store.all<{ id: number }>(`SELECT id FROM schema_migrations WHERE id = 823`);
      assert.equal(applied.length, 0);
      const kept = await t.store.all<Record<string, unknown>>(
        `SELECT serial, pem FROM certificates ORDER BY serial`,
      );
      assert.deepEqual(
        kept.map(plain),
        [good, bad].map((r) => [r.values[0], r.values[7]]),
      );
    } finally {
      await t.close();
    }
  });
}
