/**
 * Hybrid post-quantum encryption to a device and to the server (X-Wing + HPKE + AES-256-GCM), and
 * symmetric AES-256-GCM envelopes with associated data.
 * Run: node packages/sdk/examples/envelopes.ts
 */
import { randomBytes } from "node:crypto";
import { openEnvelope, sealEnvelope } from "@bulwark/sdk/aead";
import { openWith, sealTo, xwingKeyPair } from "@bulwark/sdk/kem";

// Each side holds an X-Wing key pair; the public keys are exchanged (1216 bytes each).
const device = xwingKeyPair();
const server = xwingKeyPair();
const aad = Buffer.from("bw/v1/d/0192f1a0-device/config");

// Server → device: only the device's secret key opens it, and only as "to-device" with this aad.
const down = sealTo(device.publicKey, Buffer.from('{"wifi":"s3cret"}'), { direction: "to-device", aad });
console.log(
  `to device: ${down.length} bytes -> ${openWith(device.secretKey, down, { direction: "to-device", aad })}`,
);

// Device → server.
const up = sealTo(server.publicKey, Buffer.from("diagnostic bundle"), { direction: "to-server", aad });
console.log(
  `to server: ${up.length} bytes -> ${openWith(server.secretKey, up, { direction: "to-server", aad })}`,
);

// Symmetric envelope under a key both sides already share.
const key = randomBytes(32);
const sealed = sealEnvelope(key, Buffer.from("telemetry batch"), Buffer.from("batch 7"));
console.log(`symmetric: ${openEnvelope(key, sealed, Buffer.from("batch 7"))}`);
try {
  openEnvelope(key, sealed, Buffer.from("batch 8"));
  process.exit(1);
} catch (error) {
  console.log(`other associated data is refused: ${(error as Error).name}`);
}
