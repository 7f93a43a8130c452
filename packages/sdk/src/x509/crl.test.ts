import assert from "node:assert/strict";
import { generateKeyPairSync, sign } from "node:crypto";
import { describe, it } from "node:test";
import { buildCrl, parseCrl, type RevokedEntry } from "./crl.ts";
import { commonNameOnly } from "./name.ts";

describe("buildCrl (RFC 5280 §5.1)", () => {
  it("encodes a CRL of 150,000 entries (renewals put every superseded certificate on it) and reads it back", () => {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const signer = {
      algorithm: "ecdsa-p256" as const,
      sign: (data: Buffer) => sign("sha256", data, privateKey),
    };
    const revokedAt = new Date("2026-12-01T00:00:00Z");
    const reasons = ["superseded", "keyCompromise", "unspecified"] as const;
    const revoked: RevokedEntry[] = Array.from({ length: 150_000 }, (_, i) => ({
      serialHex: `01${i.toString(16).padStart(30, "0")}`,
      revokedAt,
      reason: reasons[i % 3]!,
    }));
    const der = buildCrl(
      {
        issuerDer: commonNameOnly("issuer"),
        issuerKeyId: Buffer.alloc(20, 1),
        thisUpdate: revokedAt,
        nextUpdate: new Date(revokedAt.getTime() + 86_400_000),
        crlNumber: 7n,
        revoked,
      },
      signer,
    );
    const parsed = parseCrl(der);
    assert.equal(parsed.crlNumber, 7n);
    assert.equal(parsed.revoked.length, revoked.length);
    for (const i of [0, 1, 2, 74_999, 149_999]) assert.deepEqual(parsed.revoked[i], revoked[i], `entry ${i}`);
  });
});
