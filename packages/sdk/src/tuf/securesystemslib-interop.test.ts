import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { fixture } from "../../test/tuf-fixtures.ts";
import { canonicalBytes } from "./canonical.ts";

/**
 * A second, independent implementation checks our bytes: securesystemslib (python-tuf's crypto
 * and canonical JSON library; Debian's python3-securesystemslib 0.26, pyca/cryptography 38).
 * PyPI is not reachable here, so python-tuf itself is not installed; securesystemslib is what
 * python-tuf verifies signatures with. It has no ML-DSA (cryptography 38 predates it).
 */
const PYTHON = "/usr/bin/python3";
const available = spawnSync(PYTHON, ["-c", "import securesystemslib.signer"]).status === 0;

/** For each metadata file: canonical SHA-256, signatures by the root's keys, and how each key type loads. */
const SCRIPT = `
import json, sys, hashlib
from securesystemslib.formats import encode_canonical
from securesystemslib.signer import Key, Signature
out = {}
files = json.load(sys.stdin)
keys = json.loads(files["1.root.json"])["signed"]["keys"]
for name, text in files.items():
    meta = json.loads(text)
    canonical = encode_canonical(meta["signed"]).encode("utf-8")
    entry = {"sha256": hashlib.sha256(canonical).hexdigest(), "verified": [], "keyids": [], "unsupported": []}
    for keyid, key in keys.items():
        entry["keyids"].append(keyid == hashlib.sha256(encode_canonical(key).encode("utf-8")).hexdigest())
        try:
            loaded = Key.from_dict(keyid, dict(key))
        except ValueError:
            entry["unsupported"].append(key["keytype"] + "/" + key["scheme"])
            continue
        for sig in meta["signatures"]:
            if sig["keyid"] == keyid:
                loaded.verify_signature(Signature(keyid, sig["sig"]), canonical)
                entry["verified"].append(key["keytype"])
    out[name] = entry
print(json.dumps(out))
`;

describe("securesystemslib (python-tuf's library) cross-checks our canonical JSON, key ids and ECDSA signatures", {
  skip: available ? false : "Debian's python3-securesystemslib is not installed",
}, () => {
  it("computes the same canonical bytes, the same key ids, and verifies every ECDSA signature", async () => {
    const f = await fixture();
    const files = Object.fromEntries(
      [...f.repo.files()].map(([name, bytes]) => [name, bytes.toString("utf8")]),
    );
    const result = JSON.parse(
      execFileSync(PYTHON, ["-c", SCRIPT], { input: JSON.stringify(files) }).toString(),
    ) as Record<string, { sha256: string; verified: string[]; keyids: boolean[]; unsupported: string[] }>;
    for (const [name, text] of Object.entries(files)) {
      const ours = createHash("sha256")
        .update(canonicalBytes(JSON.parse(text).signed))
        .digest("hex");
      assert.equal(result[name]?.sha256, ours, `canonical form of ${name}`);
    }
    const root = result["1.root.json"]!;
    assert.deepEqual(root.keyids, Array(8).fill(true), "every key id is the SHA-256 of the canonical key");
    for (const name of ["1.root.json", "1.targets.json", "1.snapshot.json", "timestamp.json"]) {
      assert.deepEqual(
        result[name]?.verified,
        ["ecdsa"],
        `the ECDSA signature of ${name} verifies in securesystemslib`,
      );
    }
    // Stock securesystemslib refuses to load ML-DSA keys unless an application registers them:
    // a python-tuf client must add ("ml-dsa", "ml-dsa-65/1") to KEY_FOR_TYPE_AND_SCHEME (docs/tuf.md).
    assert.deepEqual(root.unsupported, Array(4).fill("ml-dsa/ml-dsa-65/1"));
  });
});
