import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes, X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it, test } from "node:test";
import { explicit, octetString, oid, seq, setOf, Tag, tlv, utf8 } from "@bulwark/sdk/der";
import { OID } from "@bulwark/sdk/oids";
import { generateKeyPair, spkiOf } from "@bulwark/sdk/x509/algorithms";
import { buildCertificate, keySigner } from "@bulwark/sdk/x509/certificate";
import { basicConstraints, subjectAltName } from "@bulwark/sdk/x509/extensions";
import { hardwareModuleNameGeneralName } from "@bulwark/sdk/x509/hardware-module-name";
import { commonNameOnly } from "@bulwark/sdk/x509/name";
import { storeBackends } from "../../test/store-fixtures.ts";
import { migrate } from "../store/migrate.ts";
import { migrations } from "../store/migrations.ts";
import { claimHardwareSerial, type SerialLog } from "./hardware-serial.ts";

/**
 * A factory certificate whose subject is CN plus, when given, a serialNumber (encoded as `tag`),
 * with `extensions` besides basicConstraints.
 */
function factoryCertificate(serial?: { value: string; tag: number }, extensions: Buffer[] = []): Buffer {
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
      extensions: [basicConstraints(false), ...extensions],
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

// An IEEE 802.1AR IDevID's private hwType (any OID: it names the kind of module, RFC 4108 §5).
const HW_TYPE = "1.3.6.1.4.1.55555.1.1";

/** A SubjectAltName naming one hardware module (RFC 4108 §5 otherName) with this hwSerialNum. */
const moduleAltName = (hwSerialNum: Buffer) =>
  subjectAltName({ otherNames: [hardwareModuleNameGeneralName({ hwType: HW_TYPE, hwSerialNum })] });

/** A SerialLog that keeps what it is told. */
function recordingLog(): SerialLog & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, warn: (details, message) => warnings.push(`${message} ${JSON.stringify(details)}`) };
}

test("the SubjectAltName hardwareModuleName (RFC 4108 §5) names the hardware serial, as text when printable", () => {
  const log = recordingLog();
  const ascii = factoryCertificate(undefined, [moduleAltName(Buffer.from("IDEV-0001/A", "ascii"))]);
  assert.equal(claimHardwareSerial(ascii, log), "IDEV-0001/A");
  const withDns = factoryCertificate(undefined, [
    subjectAltName({
      dns: ["unit.example"],
      otherNames: [
        hardwareModuleNameGeneralName({ hwType: HW_TYPE, hwSerialNum: Buffer.from("SN-7", "ascii") }),
      ],
    }),
  ]);
  assert.equal(claimHardwareSerial(withDns, log), "SN-7", "other GeneralNames are skipped");
  assert.deepEqual(log.warnings, []);
});

test("a binary hwSerialNum is kept as lowercase hex (printable ASCII only as text)", () => {
  const binary = Buffer.from([0x00, 0x1b, 0xc5, 0x0f, 0xff, 0x7a]);
  assert.equal(claimHardwareSerial(factoryCertificate(undefined, [moduleAltName(binary)])), "001bc50fff7a");
  // A control character makes it binary too: 0x0a is not printable.
  assert.equal(
    claimHardwareSerial(factoryCertificate(undefined, [moduleAltName(Buffer.from("AB\n", "latin1"))])),
    "41420a",
  );
  // 64 octets give 128 hex characters, the most a serial may have; 65 give none.
  assert.equal(
    claimHardwareSerial(factoryCertificate(undefined, [moduleAltName(Buffer.alloc(64, 0xee))])),
    "ee".repeat(64),
  );
  assert.equal(
    claimHardwareSerial(factoryCertificate(undefined, [moduleAltName(Buffer.alloc(65, 0xee))])),
    undefined,
  );
  assert.equal(
    claimHardwareSerial(factoryCertificate(undefined, [moduleAltName(Buffer.alloc(0))])),
    undefined,
    "an empty hwSerialNum names none",
  );
});

test("a hardwareModuleName as openssl encodes it is read (ASCII and binary hwSerialNum)", () => {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-hmn-"));
  try {
    const serialOf = (hwSerialNum: string) => {
      const config = join(dir, "req.cnf");
      writeFileSync(
        config,
        [
          "[req]\ndistinguished_name = dn\nprompt = no\nx509_extensions = ext",
          "[dn]\nCN = unit\nserialNumber = SUBJECT-9",
          "[ext]\nsubjectAltName = otherName:1.3.6.1.5.5.7.8.4;SEQUENCE:hmn",
          `[hmn]\nhwType = OID:${HW_TYPE}\nhwSerialNum = ${hwSerialNum}`,
        ].join("\n"),
      );
      const pem = execFileSync(
        "openssl",
        ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"].concat([
          "-keyout",
          join(dir, "key.pem"),
          "-days",
          "1",
          "-config",
          config,
        ]),
        { stdio: ["ignore", "pipe", "ignore"] },
      );
      return claimHardwareSerial(new X509Certificate(pem).raw);
    };
    assert.equal(serialOf("OCTETSTRING:OSSL-42"), "OSSL-42");
    assert.equal(serialOf("FORMAT:HEX,OCTETSTRING:00FF10"), "00ff10");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the SubjectAltName hardwareModuleName wins over the subject serialNumber", () => {
  const both = factoryCertificate({ value: "SUBJECT-1", tag: Tag.PRINTABLE_STRING }, [
    moduleAltName(Buffer.from("SAN-1", "ascii")),
  ]);
  assert.equal(claimHardwareSerial(both), "SAN-1");
  // One the SubjectAltName cannot give (65 binary octets) leaves the subject's.
  const unusable = factoryCertificate({ value: "SUBJECT-2", tag: Tag.PRINTABLE_STRING }, [
    moduleAltName(Buffer.alloc(65, 1)),
  ]);
  assert.equal(claimHardwareSerial(unusable), "SUBJECT-2");
});

test("a malformed hardwareModuleName names no serial, is logged at warn, and does not throw", () => {
  // otherName [0] { type-id hardwareModuleName, [0] { SEQUENCE { hwType, hwSerialNum as UTF8String } } }
  const otherName = (value: Buffer) => {
    const encoded = seq(oid(OID.hardwareModuleName), explicit(0, value));
    encoded[0] = 0xa0;
    return encoded;
  };
  const malformed = [
    otherName(seq(oid(HW_TYPE), utf8("not an OCTET STRING"))),
    otherName(seq(octetString(Buffer.from("no hwType")))),
    otherName(seq(oid(HW_TYPE), octetString(Buffer.from("x")), octetString(Buffer.from("y")))),
    otherName(octetString(Buffer.from("not a SEQUENCE"))),
    // A length running past its end: not DER.
    Buffer.from([0xa0, 0x05, 0x06, 0x09, 0x2b]),
  ];
  for (const [i, entry] of malformed.entries()) {
    const log = recordingLog();
    const certificate = factoryCertificate(undefined, [subjectAltName({ otherNames: [entry] })]);
    assert.equal(claimHardwareSerial(certificate, log), undefined, `case ${i}`);
    assert.equal(log.warnings.length, 1, `case ${i}: one warning`);
    assert.match(log.warnings[0]!, /subjectAltName is malformed/);
    // The subject's serialNumber, when it names one, is still read.
    const withSubject = factoryCertificate({ value: "SUBJECT-3", tag: Tag.PRINTABLE_STRING }, [
      subjectAltName({ otherNames: [entry] }),
    ]);
    assert.equal(claimHardwareSerial(withSubject, log), "SUBJECT-3", `case ${i}`);
  }
  // An otherName of another type is not ours to judge: skipped without a warning.
  const log = recordingLog();
  const foreign = seq(oid("1.3.6.1.5.5.7.8.9"), explicit(0, utf8("someone@example")));
  foreign[0] = 0xa0;
  assert.equal(
    claimHardwareSerial(factoryCertificate(undefined, [subjectAltName({ otherNames: [foreign] })]), log),
    undefined,
  );
  assert.deepEqual(log.warnings, []);
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
