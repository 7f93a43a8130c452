import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as release from "../sign/release.ts";
import * as detached from "./detached.ts";

describe("signing/detached: the old import path", () => {
  it("re-exports the release signature API of /sign unchanged (the server and CLI import it)", () => {
    for (const name of [
      "verifyDetached",
      "signedMessage",
      "digestFile",
      "parseDetachedSignature",
      "readPublicKeys",
      "publicKeysPem",
      "spkiSha256",
      "HYBRID_ALGORITHMS",
    ])
      assert.equal(
        (detached as Record<string, unknown>)[name],
        (release as Record<string, unknown>)[name],
        name,
      );
  });

  it("signedMessage keeps the documented v1 line format (docs/signatures.md)", () => {
    const message = detached.signedMessage(
      { name: "a.bin", size: 1, sha256: "a".repeat(64), sha512: "b".repeat(128) },
      "2026-11-25T20:00:00.000Z",
      "key",
      { "ecdsa-p256": "c".repeat(64), "ml-dsa-65": "d".repeat(64) },
    );
    assert.equal(
      message.toString(),
      `bulwark-signature-v1\nartifact-name:"a.bin"\nartifact-size:1\nsha256:${"a".repeat(64)}\nsha512:${"b".repeat(128)}\nsigned-at:2026-11-25T20:00:00.000Z\nsigning-key:key\necdsa-p256:${"c".repeat(64)}\nml-dsa-65:${"d".repeat(64)}\n`,
    );
  });
});
