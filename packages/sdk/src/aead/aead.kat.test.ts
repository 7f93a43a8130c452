import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hex, readKat } from "../../test/kat.ts";
import { AuthenticationError, gcmDecrypt, gcmEncrypt } from "../primitives/aes-256-gcm.ts";

interface AeadKat {
  testGroups: {
    keySize: number;
    ivSize: number;
    tagSize: number;
    tests: {
      tcId: number;
      key: string;
      iv: string;
      aad: string;
      msg: string;
      ct: string;
      tag: string;
      result: string;
    }[];
  }[];
}

describe("aead: Wycheproof AES-GCM (packages/sdk/test/data/kat/README.md)", () => {
  const kat = readKat<AeadKat>("wycheproof/aes_gcm_test.json.gz");

  it("AES-256 with 96-bit IV and 128-bit tag: encrypts to every valid vector and refuses every invalid one", () => {
    const ours = kat.testGroups.filter((g) => g.keySize === 256 && g.ivSize === 96 && g.tagSize === 128);
    const tally = { valid: 0, invalid: 0 };
    for (const t of ours.flatMap((g) => g.tests)) {
      const sealed = Buffer.concat([hex(t.ct), hex(t.tag)]);
      if (t.result === "valid") {
        assert.equal(gcmEncrypt(hex(t.key), hex(t.iv), hex(t.msg), hex(t.aad)).toString("hex"), t.ct + t.tag);
        assert.equal(
          gcmDecrypt(hex(t.key), hex(t.iv), sealed, hex(t.aad)).toString("hex"),
          t.msg,
          `tcId ${t.tcId}`,
        );
        tally.valid++;
      } else {
        assert.throws(
          () => gcmDecrypt(hex(t.key), hex(t.iv), sealed, hex(t.aad)),
          AuthenticationError,
          `tcId ${t.tcId}`,
        );
        tally.invalid++;
      }
    }
    assert.ok(tally.valid > 20 && tally.invalid > 10, JSON.stringify(tally));
  });

  it("refuses every other key or IV size outright (the one profile Bulwark uses)", () => {
    const others = kat.testGroups.filter((g) => (g.keySize !== 256 || g.ivSize !== 96) && g.tagSize === 128);
    assert.ok(others.length > 0);
    for (const t of others.flatMap((g) => g.tests))
      assert.throws(
        () => gcmEncrypt(hex(t.key), hex(t.iv), hex(t.msg), hex(t.aad)),
        RangeError,
        `tcId ${t.tcId}`,
      );
  });
});
