import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { it, test } from "node:test";
import { oid, seq, setOf, Tag, tlv, utf8 } from "@bulwark/sdk/der";
import { OID } from "@bulwark/sdk/oids";
import { generateKeyPair, spkiOf } from "@bulwark/sdk/x509/algorithms";
import { buildCertificate, keySigner } from "@bulwark/sdk/x509/certificate";
import { basicConstraints } from "@bulwark/sdk/x509/extensions";
import { commonNameOnly } from "@bulwark/sdk/x509/name";
import { storeBackends } from "../software/test-fixtures.ts";
import { migrate } from "../store/migrate.ts";
import { migrations } from "../store/migrations.ts";
import { claimHardwareSerial } from "./hardware-serial.ts";

/** A factory certificate whose subject is CN plus, when given, a serialNumber (encoded as `tag`). */
function factoryCertificate(serial?: { value: string; tag: number }): Buffer {
  const keys = generateKeyPair("ecdsa-p256");
  const rdn = (type: string, value: Buffer) => setOf(seq(oid(type), value));
  const subject = seq(
    rdn(OID.commonName, utf8("unit")),
    ...(serial ? [rdn(OID.serialNumber, tlv(serial.tag, Buffer.from(serial.value, "utf8")))] : []),
  );
  return buildCertificate(
    {
      serial: randomBytes(8),
      issuerDer: commonNameOnly("Factory CA"),
      subjectDer: subject,
      notBefore: new Date(0),
      notAfter: new Date(4_102_444_800_000),
      spki: spkiOf(keys.publicKey),
      extensions: [basicConstraints(false)],
    },
    keySigner("ecdsa-p256", keys.privateKey),
  );
}

test("the hardware serial of a claim certificate is its subject serialNumber (IEEE 802.1AR IDevID)", () => {
  const printable = factoryCertificate({ value: "ACME-0042:7", tag: Tag.PRINTABLE_STRING });
  assert.equal(claimHardwareSerial(printable), "ACME-0042:7");
  assert.equal(
    claimHardwareSerial(factoryCertificate({ value: "SN 42/B", tag: Tag.UTF8_STRING })),
    "SN 42/B",
  );
  assert.equal(claimHardwareSerial(factoryCertificate()), undefined, "none named");
  assert.equal(
    claimHardwareSerial(factoryCertificate({ value: "SN-\u00fc", tag: Tag.UTF8_STRING })),
    undefined,
    "not printable ASCII: not stored",
  );
  assert.equal(
    claimHardwareSerial(factoryCertificate({ value: "x".repeat(129), tag: Tag.UTF8_STRING })),
    undefined,
  );
  assert.equal(claimHardwareSerial(Buffer.from("not a certificate")), undefined);
});

for (const backend of storeBackends)
  it(`migration 822 on ${backend.name}: devices enrolled with a registered serial get it as their hardware serial`, async (ctx) => {
    const t = await backend.open(ctx, 821);
    if (!t) return;
    try {
      await t.store.transaction(async (tx) => {
        await tx.run(
          `INSERT INTO device_groups (id, name, provisioning_policy, created_at) VALUES ('g', 'g', '{}', 1)`,
        );
        const devices: [string, string | null][] = [
          ["d-registered", null],
          ["d-operator", "OP-1"],
          ["d-token", null],
        ];
        for (const [id, serial] of devices)
          await tx.run(
            `INSERT INTO devices (id, group_id, status, enrolled_via, metadata, created_at, updated_at, serial)
              VALUES (?, 'g', 'active', 'x', '{}', 1, 1, ?)`,
            [id, serial],
          );
        const registered: [string, string | null][] = [
          ["SN-1", "d-registered"],
          ["SN-2", "d-operator"],
          ["SN-3", null],
        ];
        for (const [sn, device] of registered)
          await tx.run(
            `INSERT INTO registered_devices (serial_number, group_id, secret_hash, device_id, created_at)
              VALUES (?, 'g', 'h', ?, 1)`,
            [sn, device],
          );
      });
      await migrate(t.store, migrations);
      const rows = await t.store.all<{ id: string; serial: string | null }>(
        `SELECT id, serial FROM devices ORDER BY id`,
      );
      assert.deepEqual(
        rows.map((r) => [r.id, r.serial]),
        [
          ["d-operator", "OP-1"],
          ["d-registered", "SN-1"],
          ["d-token", null],
        ],
      );
    } finally {
      await t.close();
    }
  });
