import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const EXAMPLES = fileURLToPath(new URL("../examples/", import.meta.url));

/** What each example must print, so a run that exits 0 without doing its job still fails. */
const EXPECT: Record<string, RegExp[]> = {
  "sign-and-verify.ts": [/ml-dsa-65: \d+-byte signature verified/, /both halves verified/],
  "release-signature.ts": [/release signature verified/, /refused: digest-mismatch/],
  "envelopes.ts": [
    /to device: \d+ bytes -> \{"wifi":"s3cret"\}/,
    /to server: .* diagnostic bundle/,
    /refused: AuthenticationError/,
  ],
  "device-store.ts": [
    /"integrity-failure"/,
    /refused: encrypted store: record state\/config authentication-failed/,
  ],
};

describe("@bulwark/sdk examples stay runnable", () => {
  it("every example has expectations", () => {
    assert.deepEqual(
      readdirSync(EXAMPLES)
        .filter((f) => f.endsWith(".ts"))
        .sort(),
      Object.keys(EXPECT).sort(),
    );
  });
  for (const [file, patterns] of Object.entries(EXPECT)) {
    it(`examples/${file} runs and prints what it shows`, () => {
      const out = execFileSync(process.execPath, [`${EXAMPLES}${file}`], { encoding: "utf8" });
      for (const p of patterns) assert.match(out, p);
    });
  }
});
