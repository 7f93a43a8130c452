import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Aes256Gcm, CipherSuite, HkdfSha256 } from "@hpke/core";
import { XWing } from "@hpke/hybridkem-x-wing";
import { ml_kem768_x25519 } from "@noble/post-quantum/hybrid.js";
import { AuthenticationError } from "../primitives/aes-256-gcm.ts";
import { openWith, sealTo } from "./envelope.ts";
import { hpkeOpen, hpkeSeal } from "./hpke.ts";
import { KemError, xwingDecapsulate, xwingEncapsulate, xwingKeyPair, xwingSecretKey } from "./xwing.ts";

// Independent implementations: hpke-js (RFC 9180 with its own X-Wing) and noble-post-quantum's X-Wing.
const hpkeJs = new CipherSuite({ kem: new XWing(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });

describe("kem: X-Wing encapsulation", () => {
  it("round-trips, and noble-post-quantum's X-Wing decapsulates our ciphertexts to the same secret", () => {
    const { secretKey, publicKey } = xwingKeyPair();
    for (let i = 0; i < 5; i++) {
      const { sharedSecret, ciphertext } = xwingEncapsulate(publicKey);
      assert.deepEqual(xwingDecapsulate(secretKey, ciphertext), sharedSecret);
      assert.deepEqual(Buffer.from(ml_kem768_x25519.decapsulate(ciphertext, secretKey)), sharedSecret);
    }
    // And ours decapsulates noble's.
    const theirs = ml_kem768_x25519.encapsulate(publicKey);
    assert.deepEqual(xwingDecapsulate(secretKey, theirs.cipherText), Buffer.from(theirs.sharedSecret));
  });

  it("refuses wrong sizes and a low-order X25519 half with a KemError", () => {
    const { secretKey, publicKey } = xwingKeyPair();
    assert.throws(() => xwingEncapsulate(publicKey.subarray(1)), KemError);
    const lowOrderKey = Buffer.from(publicKey);
    lowOrderKey.fill(0, 1184);
    assert.throws(() => xwingEncapsulate(lowOrderKey), /X25519 part of the public key/);
    const badModulus = Buffer.from(publicKey);
    badModulus.fill(0xff, 0, 384); // coefficients ≥ q fail the FIPS 203 §7.2 modulus check
    assert.throws(() => xwingEncapsulate(badModulus), /ML-KEM-768 part of the public key is invalid/);
    const { ciphertext } = xwingEncapsulate(publicKey);
    assert.throws(() => xwingDecapsulate(secretKey, ciphertext.subarray(1)), KemError);
    const lowOrder = Buffer.from(ciphertext);
    lowOrder.fill(0, 1088); // u = 0 is a point of small order (RFC 7748 §6.1)
    assert.throws(() => xwingDecapsulate(secretKey, lowOrder), /low-order/);
  });
});

describe("kem: HPKE base mode with X-Wing (RFC 9180)", () => {
  const info = Buffer.from("bulwark test");
  const aad = Buffer.from("device 42");

  it("hpke-js opens what we seal, and we open what hpke-js seals", async () => {
    const { secretKey, publicKey } = xwingKeyPair();
    const ours = hpkeSeal(publicKey, info, aad, Buffer.from("to hpke-js"));
    const recipientKey = await hpkeJs.kem.deserializePrivateKey(secretKey);
    const opened = await hpkeJs.open({ recipientKey, enc: ours.enc, info }, ours.ciphertext, aad);
    assert.equal(Buffer.from(opened).toString(), "to hpke-js");
    const recipientPublicKey = await hpkeJs.kem.deserializePublicKey(publicKey);
    const theirs = await hpkeJs.seal({ recipientPublicKey, info }, Buffer.from("from hpke-js"), aad);
    const plain = hpkeOpen(secretKey, Buffer.from(theirs.enc), info, aad, Buffer.from(theirs.ct));
    assert.equal(plain.toString(), "from hpke-js");
    // Negative control: another info does not open.
    assert.throws(
      () => hpkeOpen(secretKey, Buffer.from(theirs.enc), Buffer.from("other"), aad, Buffer.from(theirs.ct)),
      AuthenticationError,
    );
  });
});

describe("kem: envelopes to and from devices", () => {
  const device = xwingKeyPair();
  const server = xwingKeyPair();
  const aad = Buffer.from("bw/v1/d/42/config");

  it("seals to a device and to the server; each opens only with its own key, direction and aad", () => {
    const down = sealTo(device.publicKey, Buffer.from("wifi password"), { direction: "to-device", aad });
    assert.equal(
      openWith(device.secretKey, down, { direction: "to-device", aad }).toString(),
      "wifi password",
    );
    const up = sealTo(server.publicKey, Buffer.from("crash dump"), { direction: "to-server", aad });
    assert.equal(openWith(server.secretKey, up, { direction: "to-server", aad }).toString(), "crash dump");
    const prepared = xwingSecretKey(server.secretKey);
    assert.equal(openWith(prepared, up, { direction: "to-server", aad }).toString(), "crash dump");

    assert.throws(
      () => openWith(server.secretKey, down, { direction: "to-device", aad }),
      AuthenticationError,
    );
    assert.throws(
      () => openWith(device.secretKey, down, { direction: "to-server", aad }),
      AuthenticationError,
    );
    const otherAad = Buffer.from("bw/v1/d/43/config");
    assert.throws(
      () => openWith(device.secretKey, down, { direction: "to-device", aad: otherAad }),
      AuthenticationError,
    );
  });

  it("detects a change to any part of the envelope", () => {
    const sealed = sealTo(device.publicKey, Buffer.from("x".repeat(100)), { direction: "to-device", aad });
    for (const offset of [1, 1088, 1120, 1121, sealed.length - 1]) {
      const changed = Buffer.from(sealed);
      changed[offset]! ^= 0x80;
      assert.throws(
        () => openWith(device.secretKey, changed, { direction: "to-device", aad }),
        (e: Error) => e instanceof AuthenticationError || e instanceof KemError,
        `offset ${offset}`,
      );
    }
    assert.throws(
      () => openWith(device.secretKey, Buffer.from([2, ...sealed.subarray(1)]), { direction: "to-device" }),
      /version 2/,
    );
  });
});
