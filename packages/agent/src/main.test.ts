import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { runAgentMain } from "../../../test/agent-cli.ts";
import { tempDir } from "../../../test/helpers.ts";

const agent = runAgentMain;

function usageError(r: { code: number; stdout: string; stderr: string }, pattern: RegExp) {
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stdout, "");
  assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, pattern);
}

describe("bulwark-agent command line", () => {
  it("help goes to stdout with exit 0", async () => {
    for (const argv of [[], ["--help"], ["help"]]) {
      const r = await agent(argv);
      assert.equal(r.code, 0);
      assert.match(r.stdout, /^Usage:\n {2}bulwark-agent enroll --server URL/);
      assert.equal(r.stderr, "");
    }
  });

  it("an unknown command, an unknown option or a missing value is one line with exit 2", async () => {
    usageError(await agent(["enrol"]), /^bulwark-agent: unknown command "enrol" \(bulwark-agent --help/);
    usageError(await agent(["run", "--frob"]), /^bulwark-agent run: unknown option --frob$/m);
    usageError(await agent(["enroll", "--server"]), /^bulwark-agent enroll: --server needs a value$/m);
    usageError(
      await agent(["enroll", "--server", "https://x"]),
      /enroll needs --server, --token and --ca-fingerprint/,
    );
  });

  it("report-event and event-logging check their arguments before touching the state directory", async () => {
    const stateDir = join(tempDir("bulwark-agent-cli-"), "state");
    usageError(
      await agent(["report-event", "--kind", "bogus", "--state-dir", stateDir]),
      /report-event needs --kind login-failed\|/,
    );
    usageError(
      await agent([
        "report-event",
        "--kind",
        "login-failed",
        "--detail",
        "two\nlines",
        "--state-dir",
        stateDir,
      ]),
      /--detail must be one line of at most 256 characters/,
    );
    usageError(
      await agent(["event-logging", "maybe", "--state-dir", stateDir]),
      /event-logging needs on or off/,
    );
    assert.equal(existsSync(stateDir), false);
  });

  it("enroll with a malformed fingerprint is bad usage and leaves nothing behind", async () => {
    const stateDir = join(tempDir("bulwark-agent-cli-"), "state");
    usageError(
      await agent([
        "enroll",
        "--server",
        "https://127.0.0.1:1",
        "--token",
        "t",
        "--ca-fingerprint",
        "12",
        "--state-dir",
        stateDir,
      ]),
      /--ca-fingerprint must be the root CA's SHA-256/,
    );
    assert.equal(existsSync(stateDir), false);
  });
});
