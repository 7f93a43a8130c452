import assert from "node:assert/strict";
import { test } from "node:test";
import { newDeviceId } from "../fleet/devices.ts";
import { deviceIdFromUri, deviceUri, randomSerial } from "./profiles.ts";

test("serials are 16 positive octets: the issuance millisecond, then 80 bits of CSPRNG output", () => {
  const at = Date.UTC(2026, 11, 4, 12, 0, 0, 123);
  const serials = Array.from({ length: 2000 }, () => randomSerial(at));
  for (const serial of serials) {
    assert.equal(serial.length, 16);
    // RFC 5280 §4.1.2.2: positive, and DER's minimal encoding needs no leading zero octet.
    assert.ok(serial[0]! >= 0x01 && serial[0]! < 0x80);
    assert.equal(serial.readUIntBE(0, 6), at);
  }
  // CA/B BR §7.1: the random part differs between serials of the same millisecond.
  const randomParts = new Set(serials.map((s) => s.subarray(6).toString("hex")));
  assert.equal(randomParts.size, serials.length);
  // Each bit of the random part is set in some serials and clear in others (no constant bits).
  for (let bit = 0; bit < 80; bit++) {
    const set = serials.filter((s) => (s[6 + (bit >> 3)]! >> (7 - (bit & 7))) & 1).length;
    assert.ok(set > 800 && set < 1200, `random bit ${bit} set in ${set} of 2000 serials`);
  }
});

test("serials sort in issuance order, as lowercase hex too", () => {
  const earlier = randomSerial(Date.UTC(2026, 0, 1));
  const later = randomSerial(Date.UTC(2026, 0, 1) + 1);
  assert.ok(Buffer.compare(earlier, later) < 0);
  assert.ok(earlier.toString("hex") < later.toString("hex"));
  // The first octet stays below 0x80 (positive without padding) for millennia.
  assert.ok(randomSerial(Date.UTC(6000, 0, 1))[0]! < 0x80);
});

test("device ids are UUID version 7: ordered by creation, usable in the device URI", async () => {
  const first = newDeviceId();
  await new Promise((resolve) => setTimeout(resolve, 2));
  const second = newDeviceId();
  for (const id of [first, second]) {
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(deviceIdFromUri(deviceUri(id)), id);
  }
  assert.ok(first < second);
});
