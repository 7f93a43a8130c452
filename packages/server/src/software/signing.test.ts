import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { toPem } from "@bulwark/sdk/pem";
import {
  type ArtifactDigest,
  digestFile,
  readPublicKeys,
  verifyDetached,
} from "@bulwark/sdk/signing/detached";
import { generateKeyPair, spkiOf } from "@bulwark/sdk/x509/algorithms";
import { tempStore } from "../../test/store-fixtures.ts";
import { verifyAuditChain } from "../audit/audit-log.ts";
import { FileKeyCustody } from "../custody/file-key-custody.ts";
import { createSigningKey, signArtifact } from "./signing.ts";

describe("release signing: hybrid ECDSA P-256 + ML-DSA-65 from key custody, verified with public keys only", () => {
  let t: Awaited<ReturnType<typeof tempStore>>;
  let custody: FileKeyCustody;
  let artifact: ArtifactDigest;
  let artifactPath: string;
  let pem: string;
  let signature: string;
  const uses: string[] = [];
  before(async () => {
    t = await tempStore();
    custody = new FileKeyCustody({
      dir: join(t.dir, "keys"),
      masterKey: randomBytes(32),
      onUse: (u) => uses.push(u.operation),
    });
    artifactPath = join(t.dir, "firmware.bin");
    writeFileSync(artifactPath, randomBytes(300_000));
    artifact = await digestFile(artifactPath, "firmware.bin");
  });
  after(() => t.close());

  it("generates both keys in custody (never exportable) and signs, audit-logged", async () => {
    const key = await createSigningKey(t.store, custody, "release-2026", { type: "user", id: "rm" });
    await assert.rejects(custody.exportPrivateKeyPem(key.keys["ml-dsa-65"].custodyKeyId), /not exportable/);
    pem = key.publicKeyPem;
    assert.deepEqual([...readPublicKeys(pem)!.keys()].sort(), ["ecdsa-p256", "ml-dsa-65"]);
    const doc = await signArtifact(t.store, custody, key.id, artifact, { type: "user", id: "rm" });
    signature = JSON.stringify(doc);
    assert.deepEqual(
      doc.signatures.map((s) => s.algorithm),
      ["ecdsa-p256", "ml-dsa-65"],
    );
    assert.equal(uses.filter((u) => u === "sign").length, 2);
    const actions = await t.store.all<{ action: string }>(`SELECT action FROM audit_log ORDER BY seq`);
    assert.deepEqual(
      actions.map((a) => a.action),
      ["signing-key.create", "release.sign"],
    );
    assert.equal((await verifyAuditChain(t.store)).problem, undefined);
  });

  it("verifies with nothing but the two public keys", () => {
    const result = verifyDetached(signature, artifact, pem);
    assert.equal(result.ok, true);
  });

  it("refuses another artifact, a tampered signature, a missing key and another key", () => {
    const other = { ...artifact, sha256: "0".repeat(64) };
    assert.deepEqual(
      verifyDetached(signature, other, pem).ok === false && "digest-mismatch",
      "digest-mismatch",
    );
    const doc = JSON.parse(signature);
    const flipped = Buffer.from(doc.signatures[1].value, "base64");
    flipped[10]! ^= 1;
    doc.signatures[1].value = flipped.toString("base64");
    const bad = verifyDetached(JSON.stringify(doc), artifact, pem);
    assert.equal(bad.ok === false && bad.reason, "signature-invalid");
    const onlyEcdsa = `${pem.split("-----END PUBLIC KEY-----")[0]}-----END PUBLIC KEY-----\n`;
    const missing = verifyDetached(signature, artifact, onlyEcdsa);
    assert.equal(missing.ok === false && missing.reason, "missing-key");
    const stranger = generateKeyPair("ml-dsa-65");
    const swapped = `${onlyEcdsa}${toPem("PUBLIC KEY", spkiOf(stranger.publicKey))}`;
    const wrong = verifyDetached(signature, artifact, swapped);
    assert.equal(wrong.ok === false && wrong.reason, "key-mismatch");
    const dropped = JSON.parse(signature);
    dropped.signatures = dropped.signatures.slice(0, 1);
    const single = verifyDetached(JSON.stringify(dropped), artifact, pem);
    assert.equal(single.ok === false && single.reason, "signature-invalid", "both signatures are required");
    assert.equal(verifyDetached("{", artifact, pem).ok, false);
  });
});
