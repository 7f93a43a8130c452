import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Issued, issue } from "../../test/pki.ts";
import { sha256Fingerprint } from "../fingerprint.ts";
import { signData } from "../x509/algorithms.ts";
import {
  DOCUMENT_SIGNING_EKU,
  EnvelopeError,
  type EnvelopeFailure,
  openEnvelope,
  sealEnvelope,
} from "./signed.ts";

const root = issue({ cn: "Root", ca: true });
const ca = issue({ cn: "Service CA", ca: true, issuer: root });
const pinned = { pem: root.pem, fingerprint: sha256Fingerprint(root.der) };

const signerOf = (leaf: Issued) => ({
  algorithm: leaf.algorithm,
  sign: (data: Buffer) => signData(leaf.algorithm, leaf.keys.privateKey, data),
});
const failsWith = (reason: EnvelopeFailure) => (e: unknown) =>
  e instanceof EnvelopeError && e.reason === reason;

describe("wire: signed envelopes for config and cmd (chain to the pinned root, RFC 9336 EKU)", () => {
  for (const algorithm of ["ecdsa-p256", "ml-dsa-65"] as const) {
    it(`${algorithm}: opens an envelope from a documentSigning certificate under the pinned root`, () => {
      const leaf = issue({
        cn: "Config signer",
        ca: false,
        issuer: ca,
        eku: [DOCUMENT_SIGNING_EKU],
        algorithm,
      });
      const envelope = sealEnvelope({ type: "config", n: 1 }, signerOf(leaf), [leaf.der, ca.der]);
      assert.deepEqual(openEnvelope(JSON.parse(JSON.stringify(envelope)), pinned), { type: "config", n: 1 });
    });
  }

  it("refuses a changed payload, another root, a missing EKU, an expired certificate and a malformed envelope", () => {
    const leaf = issue({ cn: "Config signer", ca: false, issuer: ca, eku: [DOCUMENT_SIGNING_EKU] });
    const envelope = sealEnvelope({ type: "config", n: 1 }, signerOf(leaf), [leaf.der, ca.der]);
    const changed = { ...envelope, payload: Buffer.from('{"type":"config","n":2}').toString("base64") };
    assert.throws(() => openEnvelope(changed, pinned), failsWith("signature-invalid"));

    const otherRoot = issue({ cn: "Other root", ca: true });
    assert.throws(
      () => openEnvelope(envelope, { pem: otherRoot.pem, fingerprint: pinned.fingerprint }),
      failsWith("chain-invalid"),
    );
    assert.throws(
      () => openEnvelope(envelope, { ...pinned, fingerprint: "0".repeat(64) }),
      failsWith("chain-invalid"),
    );

    const tlsLeaf = issue({ cn: "TLS", ca: false, issuer: ca, eku: ["1.3.6.1.5.5.7.3.1"] });
    const wrongEku = sealEnvelope({ n: 1 }, signerOf(tlsLeaf), [tlsLeaf.der, ca.der]);
    assert.throws(() => openEnvelope(wrongEku, pinned), failsWith("not-a-signing-certificate"));

    assert.throws(() => openEnvelope(envelope, pinned, Date.now() + 2 * 86_400_000), failsWith("expired"));
    assert.throws(
      () => openEnvelope({ ...envelope, chain: [leaf.der.toString("base64")] }, pinned),
      failsWith("malformed"),
    );
    // The leaf must be issued by the CA sent with it.
    const strayCa = issue({ cn: "Stray CA", ca: true, issuer: root });
    const stray = { ...envelope, chain: [leaf.der.toString("base64"), strayCa.der.toString("base64")] };
    assert.throws(() => openEnvelope(stray, pinned), failsWith("chain-invalid"));
  });
});
