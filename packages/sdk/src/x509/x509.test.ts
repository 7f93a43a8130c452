import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { generateKeyPairSync, randomBytes, X509Certificate } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  children,
  DerError,
  decode,
  enumerated,
  explicit,
  integer,
  nullValue,
  oid,
  readEnumerated,
  seq,
  utf8,
} from "../der/der.ts";
import { OID } from "../der/oids.ts";
import { toPem } from "../pem.ts";
import {
  generateKeyPair,
  type KeyAlgorithm,
  keyAlgorithmOf,
  keyAlgorithmOfSpki,
  spkiOf,
} from "./algorithms.ts";
import { buildCertificate, certificateExtensions, keySigner, spkiPublicKeyBits } from "./certificate.ts";
import { buildCsr, CsrError, parseCsr, verifyCsr } from "./csr.ts";
import {
  authorityKeyIdentifier,
  basicConstraints,
  extKeyUsage,
  keyIdentifier,
  keyUsage,
  subjectAltName,
  subjectKeyIdentifier,
} from "./extensions.ts";
import { hardwareModuleNameGeneralName, hardwareModuleNames } from "./hardware-module-name.ts";
import { commonNameOf, commonNameOnly } from "./name.ts";
import { certsOnly, parseCertsOnly } from "./pkcs7.ts";

function selfSigned(algorithm: KeyAlgorithm) {
  const keys = generateKeyPair(algorithm);
  const spki = spkiOf(keys.publicKey);
  const keyId = keyIdentifier(spkiPublicKeyBits(spki));
  const name = commonNameOnly(`Test Root ${algorithm}`);
  const der = buildCertificate(
    {
      serial: randomBytes(16),
      issuerDer: name,
      subjectDer: name,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86_400_000),
      spki,
      extensions: [
        basicConstraints(true, 1),
        keyUsage(["keyCertSign", "cRLSign"]),
        subjectKeyIdentifier(keyId),
      ],
    },
    keySigner(algorithm, keys.privateKey),
  );
  return { keys, der, keyId, name };
}

describe("PKCS#10", () => {
  for (const algorithm of ["ecdsa-p256", "ecdsa-p384", "ml-dsa-65"] as const) {
    it(`builds, parses and verifies a ${algorithm} request`, () => {
      const keys = generateKeyPair(algorithm);
      const der = buildCsr({
        subjectDer: commonNameOnly("device-1"),
        algorithm,
        ...keys,
        extensions: [subjectAltName({ uris: ["urn:uuid:1"] })],
      });
      const csr = parseCsr(der);
      assert.equal(commonNameOf(csr.subject), "device-1");
      assert.equal(csr.keyAlgorithm, algorithm);
      assert.equal(csr.requestedExtensions[0]?.oid, OID.subjectAltName);
      assert.ok(verifyCsr(csr));
    });
  }

  it("openssl reads and verifies our request", () => {
    const keys = generateKeyPair("ecdsa-p256");
    const der = buildCsr({ subjectDer: commonNameOnly("device-openssl"), algorithm: "ecdsa-p256", ...keys });
    const dir = mkdtempSync(join(tmpdir(), "bw-csr-"));
    writeFileSync(join(dir, "r.der"), der);
    const out = execFileSync(
      "openssl",
      ["req", "-inform", "DER", "-in", join(dir, "r.der"), "-noout", "-verify", "-subject"],
      {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    assert.match(out, /CN ?= ?device-openssl/);
  });

  it("detects a tampered signature", () => {
    const keys = generateKeyPair("ecdsa-p256");
    const der = buildCsr({ subjectDer: commonNameOnly("device-1"), algorithm: "ecdsa-p256", ...keys });
    const other = generateKeyPair("ecdsa-p256");
    const forged = buildCsr({
      subjectDer: commonNameOnly("device-1"),
      algorithm: "ecdsa-p256",
      privateKey: other.privateKey,
      publicKey: keys.publicKey,
    });
    assert.ok(verifyCsr(parseCsr(der)));
    assert.equal(verifyCsr(parseCsr(forged)), false);
  });

  it("names the key algorithm from the SPKI exactly as from the key, and refuses other curves", () => {
    for (const algorithm of ["ecdsa-p256", "ecdsa-p384", "ml-dsa-44", "ml-dsa-65", "ml-dsa-87"] as const) {
      const { publicKey } = generateKeyPair(algorithm);
      assert.equal(keyAlgorithmOfSpki(spkiOf(publicKey)), algorithm);
      assert.equal(keyAlgorithmOf(publicKey), algorithm);
    }
    // RFC 5480 §2.1.1: only namedCurve; a P-521, secp256k1 or Ed25519 key is not one we accept.
    for (const other of [
      generateKeyPairSync("ec", { namedCurve: "P-521" }).publicKey,
      generateKeyPairSync("ec", { namedCurve: "secp256k1" }).publicKey,
      generateKeyPairSync("ed25519").publicKey,
    ])
      assert.equal(keyAlgorithmOfSpki(spkiOf(other)), undefined);
    // ML-DSA with parameters present (RFC 9881 §2 says absent): not accepted.
    const mlDsa = spkiOf(generateKeyPair("ml-dsa-44").publicKey);
    const [algorithm, bits] = children(decode(mlDsa));
    const withParameters = seq(seq(...children(algorithm!).map((n) => n.bytes), nullValue()), bits!.bytes);
    assert.equal(keyAlgorithmOfSpki(withParameters), undefined);
    // A P-256 key whose parameters are not a curve OID (e.g. explicit parameters): not accepted.
    const p256 = spkiOf(generateKeyPair("ecdsa-p256").publicKey);
    const [ecAlgorithm, ecBits] = children(decode(p256));
    const [ecOid] = children(ecAlgorithm!);
    assert.equal(keyAlgorithmOfSpki(seq(seq(ecOid!.bytes, seq(integer(1))), ecBits!.bytes)), undefined);
  });

  it("refuses garbage, truncation and trailing data with CsrError", () => {
    const keys = generateKeyPair("ecdsa-p256");
    const der = buildCsr({ subjectDer: commonNameOnly("d"), algorithm: "ecdsa-p256", ...keys });
    for (const bad of [
      Buffer.from("hello"),
      der.subarray(0, der.length - 3),
      Buffer.concat([der, Buffer.from([0])]),
      Buffer.alloc(0),
    ]) {
      assert.throws(() => parseCsr(bad), CsrError);
    }
  });
});

/** A clientAuth leaf signed by `root`, with optional extra extensions (e.g. a SAN). */
function clientLeaf(
  root: ReturnType<typeof selfSigned>,
  algorithm: KeyAlgorithm,
  extra: Buffer[] = [],
): Buffer {
  const leafKeys = generateKeyPair("ecdsa-p256");
  return buildCertificate(
    {
      serial: randomBytes(16),
      issuerDer: root.name,
      subjectDer: commonNameOnly("leaf"),
      notBefore: new Date(Date.now() - 1000),
      notAfter: new Date(Date.now() + 3_600_000),
      spki: spkiOf(leafKeys.publicKey),
      extensions: [
        basicConstraints(false),
        keyUsage(["digitalSignature"]),
        extKeyUsage([OID.clientAuth]),
        authorityKeyIdentifier(root.keyId),
        ...extra,
      ],
    },
    keySigner(algorithm, root.keys.privateKey),
  );
}

describe("certificates and PKCS#7", () => {
  for (const algorithm of ["ecdsa-p256", "ml-dsa-65"] as const) {
    it(`issues a ${algorithm} chain that node:crypto verifies`, () => {
      const root = selfSigned(algorithm);
      const leaf = clientLeaf(root, algorithm, [
        subjectAltName({ uris: ["urn:uuid:abc"], dns: ["localhost"], ips: ["127.0.0.1", "::1"] }),
      ]);
      const rootX = new X509Certificate(root.der);
      const leafX = new X509Certificate(leaf);
      assert.ok(rootX.verify(rootX.publicKey));
      assert.ok(leafX.checkIssued(rootX));
      assert.ok(leafX.verify(rootX.publicKey));
      assert.match(leafX.subjectAltName ?? "", /URI:urn:uuid:abc/);
      assert.match(leafX.subjectAltName ?? "", /IP Address:127.0.0.1/);
      const bundle = parseCertsOnly(certsOnly([leaf, root.der]));
      assert.deepEqual(bundle, [leaf, root.der]);
    });
  }

  it("openssl verifies an ECDSA chain and reads the PKCS#7 bundle", () => {
    const root = selfSigned("ecdsa-p256");
    const leaf = clientLeaf(root, "ecdsa-p256");
    const dir = mkdtempSync(join(tmpdir(), "bw-chain-"));
    writeFileSync(join(dir, "root.pem"), toPem("CERTIFICATE", root.der));
    writeFileSync(join(dir, "leaf.pem"), toPem("CERTIFICATE", leaf));
    writeFileSync(join(dir, "bundle.p7"), certsOnly([leaf, root.der]));
    const verified = execFileSync(
      "openssl",
      ["verify", "-CAfile", join(dir, "root.pem"), "-purpose", "sslclient", join(dir, "leaf.pem")],
      { encoding: "utf8" },
    );
    assert.match(verified, /OK/);
    const printed = execFileSync(
      "openssl",
      ["pkcs7", "-inform", "DER", "-in", join(dir, "bundle.p7"), "-print_certs", "-noout"],
      { encoding: "utf8" },
    );
    assert.match(printed, /subject=CN ?= ?leaf/);
  });
});

describe("certificate extensions and RFC 4108 hardwareModuleName", () => {
  it("reads back the extensions and the hardware module names a certificate was built with", () => {
    const keys = generateKeyPair("ecdsa-p256");
    const module = { hwType: "1.3.6.1.4.1.55555.1.1", hwSerialNum: Buffer.from([0, 1, 0xfe]) };
    const der = buildCertificate(
      {
        serial: randomBytes(8),
        issuerDer: commonNameOnly("unit"),
        subjectDer: commonNameOnly("unit"),
        notBefore: new Date(0),
        notAfter: new Date(4_102_444_800_000),
        spki: spkiOf(keys.publicKey),
        extensions: [
          basicConstraints(false),
          subjectAltName({ dns: ["unit.example"], otherNames: [hardwareModuleNameGeneralName(module)] }),
        ],
      },
      keySigner("ecdsa-p256", keys.privateKey),
    );
    const extensions = certificateExtensions(der);
    assert.deepEqual(
      extensions.map((e) => [e.oid, e.critical]),
      [
        [OID.basicConstraints, true],
        [OID.subjectAltName, false],
      ],
    );
    assert.deepEqual(hardwareModuleNames(extensions[1]!.value), [module]);
    // OpenSSL (through node:crypto) parses the SubjectAltName carrying the otherName.
    const text = new X509Certificate(der).subjectAltName ?? "";
    assert.match(text, /DNS:unit\.example/);
  });

  it("refuses a hardwareModuleName that is not SEQUENCE { OID, OCTET STRING }", () => {
    const bad = seq(oid(OID.hardwareModuleName), explicit(0, seq(oid("1.2.3"), utf8("text"))));
    bad[0] = 0xa0;
    assert.throws(() => hardwareModuleNames(seq(bad)), DerError);
  });
});

describe("DER ENUMERATED", () => {
  // X.690 §8.4; RFC 5280 §5.3.1 (CRLReason) and RFC 6960 §4.2.1 (OCSPResponseStatus) are ENUMERATED.
  it("reads an ENUMERATED and refuses an INTEGER, a negative or a non-minimal value in its place", () => {
    assert.equal(readEnumerated(decode(enumerated(1))), 1);
    assert.equal(readEnumerated(decode(enumerated(300))), 300);
    assert.throws(() => readEnumerated(decode(integer(1))), DerError);
    assert.throws(() => readEnumerated(decode(Buffer.from([0x0a, 0x01, 0xff]))), /negative/);
    assert.throws(() => readEnumerated(decode(Buffer.from([0x0a, 0x02, 0x00, 0x01]))), /non-minimal/);
  });
});
