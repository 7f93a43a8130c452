import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { OID } from "../der/oids.ts";
import { toPem } from "../pem.ts";
import { generateKeyPair, type KeyAlgorithm, spkiOf, verifySignature } from "../x509/algorithms.ts";
import { buildCertificate, keySigner, parseCertificate, spkiPublicKeyBits } from "../x509/certificate.ts";
import { buildCrl, parseCrl } from "../x509/crl.ts";
import {
  authorityKeyIdentifier,
  basicConstraints,
  extKeyUsage,
  keyIdentifier,
  keyUsage,
  ocspNoCheck,
  subjectKeyIdentifier,
} from "../x509/extensions.ts";
import { commonNameOnly } from "../x509/name.ts";
import { buildOcspRequest, certIdFor, OcspError, parseOcspRequest } from "./request.ts";
import { buildOcspResponse, ocspErrorResponse, parseOcspResponse } from "./response.ts";

function issue(
  algorithm: KeyAlgorithm,
  cn: string,
  issuer: { name: Buffer; keyId: Buffer; signer: ReturnType<typeof keySigner> } | undefined,
  extensions: (spki: Buffer) => Buffer[],
) {
  const keys = generateKeyPair(algorithm);
  const spki = spkiOf(keys.publicKey);
  const name = commonNameOnly(cn);
  const signer = keySigner(algorithm, keys.privateKey);
  const keyId = keyIdentifier(spkiPublicKeyBits(spki));
  const der = buildCertificate(
    {
      serial: randomBytes(16).fill(0x11, 0, 1),
      issuerDer: issuer?.name ?? name,
      subjectDer: name,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86_400_000),
      spki,
      extensions: [...extensions(spki), authorityKeyIdentifier(issuer?.keyId ?? keyId)],
    },
    issuer?.signer ?? signer,
  );
  return { der, name, keyId, signer, spki, serialHex: parseCertificate(der).serialHex };
}

const caExt = (spki: Buffer) => [
  basicConstraints(true, 0),
  keyUsage(["keyCertSign", "cRLSign"]),
  subjectKeyIdentifier(keyIdentifier(spkiPublicKeyBits(spki))),
];

describe("CRL and OCSP codecs", () => {
  const ca = issue("ecdsa-p256", "Test CA", undefined, caExt);
  const leaf = issue("ecdsa-p256", "leaf", ca, () => [
    basicConstraints(false),
    keyUsage(["digitalSignature"]),
  ]);
  const responder = issue("ecdsa-p256", "Test OCSP", ca, () => [
    basicConstraints(false),
    keyUsage(["digitalSignature"]),
    extKeyUsage([OID.ocspSigning]),
    ocspNoCheck(),
  ]);
  const dir = mkdtempSync(join(tmpdir(), "bulwark-ocsp-"));
  writeFileSync(join(dir, "ca.pem"), toPem("CERTIFICATE", ca.der));
  writeFileSync(join(dir, "leaf.pem"), toPem("CERTIFICATE", leaf.der));

  it("builds a CRL that round-trips and that openssl verifies against the issuer", () => {
    const crl = buildCrl(
      {
        issuerDer: ca.name,
        issuerKeyId: ca.keyId,
        thisUpdate: new Date(),
        nextUpdate: new Date(Date.now() + 3_600_000),
        crlNumber: 7n,
        revoked: [{ serialHex: leaf.serialHex, revokedAt: new Date(), reason: "keyCompromise" }],
      },
      ca.signer,
    );
    const parsed = parseCrl(crl);
    assert.equal(parsed.crlNumber, 7n);
    assert.deepEqual(
      parsed.revoked.map((r) => [r.serialHex, r.reason]),
      [[leaf.serialHex, "keyCompromise"]],
    );
    assert.ok(
      verifySignature(
        parsed.signatureOid,
        generateKeyPair("ecdsa-p256").publicKey,
        parsed.tbs,
        parsed.signature,
      ) === false,
    );
    writeFileSync(join(dir, "crl.der"), crl);
    const out = execFileSync(
      "openssl",
      [
        "crl",
        "-inform",
        "DER",
        "-in",
        join(dir, "crl.der"),
        "-CAfile",
        join(dir, "ca.pem"),
        "-noout",
        "-text",
      ],
      {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    assert.match(out, /Key Compromise/);
    assert.match(out, new RegExp(leaf.serialHex.toUpperCase()));
  });

  it("parses an openssl OCSP request, and openssl accepts our signed answer with the nonce", () => {
    execFileSync(
      "openssl",
      [
        "ocsp",
        "-issuer",
        join(dir, "ca.pem"),
        "-cert",
        join(dir, "leaf.pem"),
        "-reqout",
        join(dir, "req.der"),
      ],
      { stdio: "ignore" },
    );
    const request = parseOcspRequest(readFileSync(join(dir, "req.der")));
    assert.equal(request.certIds.length, 1);
    assert.equal(request.certIds[0]!.serialHex, leaf.serialHex);
    assert.ok(request.nonce, "openssl sends a nonce by default");
    const expected = certIdFor(ca.name, ca.spki, leaf.serialHex);
    assert.deepEqual(request.certIds[0]!.der, expected);
    for (const status of [
      { kind: "good" as const },
      { kind: "revoked" as const, revokedAt: new Date(), reason: "keyCompromise" as const },
    ]) {
      const response = buildOcspResponse({
        responderKeyHash: keyIdentifier(spkiPublicKeyBits(responder.spki)),
        responderCertDer: responder.der,
        producedAt: new Date(),
        responses: [
          {
            certIdDer: request.certIds[0]!.der,
            status,
            thisUpdate: new Date(),
            nextUpdate: new Date(Date.now() + 3_600_000),
          },
        ],
        nonceExtnValue: request.nonce,
        signer: responder.signer,
      });
      writeFileSync(join(dir, "resp.der"), response);
      const parsed = parseOcspResponse(response);
      assert.equal(parsed.responses[0]!.status.kind, status.kind);
      assert.deepEqual(parsed.nonceExtnValue, request.nonce);
      const out = execFileSync(
        "openssl",
        [
          "ocsp",
          "-respin",
          join(dir, "resp.der"),
          "-no_nonce",
          "-issuer",
          join(dir, "ca.pem"),
          "-cert",
          join(dir, "leaf.pem"),
          "-CAfile",
          join(dir, "ca.pem"),
        ],
        { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
      );
      assert.match(out, new RegExp(`leaf.pem: ${status.kind}`));
    }
  });

  it("refuses malformed requests with an OcspError, and error responses carry only a status", () => {
    assert.throws(() => parseOcspRequest(Buffer.from([0x30, 0x03, 0x30, 0x01])), OcspError);
    assert.throws(() => parseOcspRequest(Buffer.alloc(9000, 0x30)), OcspError);
    const req = buildOcspRequest([certIdFor(ca.name, ca.spki, leaf.serialHex, "sha256")], randomBytes(16));
    assert.equal(parseOcspRequest(req).certIds[0]!.hash, "sha256");
    assert.equal(parseOcspResponse(ocspErrorResponse("malformedRequest")).status, "malformedRequest");
  });
});
