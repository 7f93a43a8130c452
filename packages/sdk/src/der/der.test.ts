import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  bool,
  children,
  DerError,
  decode,
  enumerated,
  expect,
  integer,
  namedBits,
  oid,
  readBitString,
  readEnumerated,
  readOid,
  readString,
  readTime,
  readUnsignedInteger,
  seq,
  Tag,
  time,
  tlv,
  utf8,
} from "./der.ts";

const h = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");

describe("der: encoding (X.690 §10 DER)", () => {
  it("uses the short length form below 128 and the minimal long form above (§8.1.3)", () => {
    assert.deepEqual(tlv(Tag.OCTET_STRING, Buffer.alloc(127)).subarray(0, 2), h("04 7f"));
    assert.deepEqual(tlv(Tag.OCTET_STRING, Buffer.alloc(128)).subarray(0, 3), h("04 81 80"));
    assert.deepEqual(tlv(Tag.OCTET_STRING, Buffer.alloc(256)).subarray(0, 4), h("04 82 01 00"));
    assert.deepEqual(tlv(Tag.OCTET_STRING, Buffer.alloc(70000)).subarray(0, 5), h("04 83 01 11 70"));
  });

  it("encodes INTEGERs in minimal two's complement from unsigned magnitudes (§8.3)", () => {
    assert.deepEqual(integer(0), h("02 01 00"));
    assert.deepEqual(integer(127), h("02 01 7f"));
    assert.deepEqual(integer(128), h("02 02 00 80"), "a sign octet keeps it positive");
    assert.deepEqual(integer(h("00 00 01")), h("02 01 01"), "leading zeros trimmed");
    assert.deepEqual(integer(2n ** 64n), h("02 09 01 00 00 00 00 00 00 00 00"));
    assert.deepEqual(enumerated(1), h("0a 01 01"));
    assert.deepEqual(bool(true), h("01 01 ff"), "DER TRUE is 0xff (§11.1)");
  });

  it("encodes OIDs in base 128 (§8.19) and reads them back", () => {
    // RFC 5280 id-ce-subjectAltName and an arc > 2^28 (ML-DSA-65 is 2.16.840.1.101.3.4.3.18).
    assert.deepEqual(oid("2.5.29.17"), h("06 03 55 1d 11"));
    assert.deepEqual(oid("2.16.840.1.101.3.4.3.18"), h("06 09 60 86 48 01 65 03 04 03 12"));
    for (const dotted of [
      "1.2.840.10045.2.1",
      "2.999.3",
      "1.3.6.1.4.1.311.21.20",
      "2.25.329800735698586629295641978511506172918",
    ])
      assert.equal(readOid(decode(oid(dotted))), dotted);
  });

  it("trims named bit strings (§11.2.2): keyUsage digitalSignature + keyCertSign", () => {
    assert.deepEqual(namedBits([0, 5]), h("03 02 02 84"));
    assert.deepEqual(readBitString(decode(namedBits([0, 5]))), h("84"));
  });

  it("writes UTCTime through 2049 and GeneralizedTime from 2050 (RFC 5280 §4.1.2.5)", () => {
    const t2049 = new Date(Date.UTC(2049, 11, 31, 23, 59, 59));
    const t2050 = new Date(Date.UTC(2050, 0, 1, 0, 0, 0));
    assert.equal(time(t2049)[0], Tag.UTC_TIME);
    assert.equal(time(t2049).subarray(2).toString(), "491231235959Z");
    assert.equal(time(t2050)[0], Tag.GENERALIZED_TIME);
    assert.equal(time(t2050).subarray(2).toString(), "20500101000000Z");
    for (const d of [t2049, t2050, new Date(Date.UTC(1999, 5, 1))])
      assert.deepEqual(readTime(decode(time(d))), d);
  });
});

describe("der: strict decoding", () => {
  it("reads nested structures", () => {
    const node = decode(seq(integer(5), utf8("héllo"), seq(oid("2.5.4.3"))));
    const [n, s, inner] = children(node);
    assert.deepEqual(readUnsignedInteger(n!), h("05"));
    assert.equal(readString(s!), "héllo");
    assert.equal(readOid(children(expect(inner, Tag.SEQUENCE, "inner"))[0]!), "2.5.4.3");
  });

  const refused: [string, string][] = [
    ["30", "truncated header"],
    ["04 05 01 02", "length exceeds input"],
    ["04 80 00 00", "unsupported length form"], // indefinite length is BER, not DER (§10.1)
    ["04 81 05 0102030405", "non-minimal length"],
    [`04 82 00 81${"00".repeat(129)}`, "non-minimal length"],
    ["04 01 00 00", "trailing data"],
    ["1f 01 00", "high tag numbers are not supported"],
  ];
  for (const [bytes, message] of refused)
    it(`refuses ${bytes.slice(0, 14)}…: ${message}`, () => {
      assert.throws(
        () => decode(h(bytes)),
        (e: Error) => e instanceof DerError && e.message === message,
      );
    });

  it("refuses non-minimal and negative INTEGERs, bad OIDs and bad times", () => {
    assert.throws(() => readUnsignedInteger(decode(h("02 02 00 01"))), /non-minimal INTEGER/);
    assert.throws(() => readUnsignedInteger(decode(h("02 01 80"))), /negative INTEGER/);
    assert.throws(() => readUnsignedInteger(decode(h("02 00"))), /empty INTEGER/);
    assert.throws(() => readOid(decode(h("06 02 80 01"))), /non-minimal OID arc/);
    assert.throws(() => readOid(decode(h("06 01 81"))), /bad OID/);
    assert.throws(() => readTime(decode(tlv(Tag.UTC_TIME, Buffer.from("4912312359Z")))), /bad time/);
    assert.throws(() => readEnumerated(decode(h("02 01 01"))), /expected tag 0xa/);
  });

  it("refuses nesting deeper than 32 levels", () => {
    let node: Buffer = h("05 00");
    for (let i = 0; i < 40; i++) node = seq(node);
    let current = decode(node);
    assert.throws(() => {
      for (let depth = 0; ; depth++) current = children(current, depth)[0]!;
    }, /nesting too deep/);
  });
});
