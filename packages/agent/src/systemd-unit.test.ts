import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { tempDir } from "../../../test/helpers.ts";

const run = promisify(execFile);
const UNIT = new URL("../systemd/bulwark-agent.service", import.meta.url).pathname;
/** systemd-analyze's exposure scale ×10: 2.0 is the top of "OK" (≤ 2.0 is rated OK, above it MEDIUM). */
const THRESHOLD = "20";

async function analyze(unit: string): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await run("systemd-analyze", [
      "security",
      "--offline=yes",
      `--threshold=${THRESHOLD}`,
      unit,
    ]);
    return { code: 0, out: stdout };
  } catch (error) {
    const e = error as { code?: number | string; stdout?: string; stderr?: string };
    if (typeof e.code !== "number") throw error;
    return { code: e.code, out: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

async function systemdAnalyzeAbsent(): Promise<string | undefined> {
  try {
    await run("systemd-analyze", ["--version"]);
    return undefined;
  } catch {
    return "systemd-analyze is not installed (no systemd here)";
  }
}

describe("agent: the provided systemd unit runs it unprivileged and sandboxed", () => {
  it("systemd-analyze security rates it OK, with the required settings in force", async (t) => {
    const absent = await systemdAnalyzeAbsent();
    if (absent) {
      t.skip(absent); // where there is no systemd there is no unit to check
      return;
    }
    const rated = await analyze(UNIT);
    assert.equal(rated.code, 0, rated.out);
    assert.match(rated.out, /Overall exposure level for bulwark-agent\.service: [01]\.\d OK/);
    for (const line of [
      /✓ User=\/DynamicUser=\s+Service runs under a static non-root user identity/,
      /✓ NoNewPrivileges=/,
      /✓ ProtectSystem=\s+Service has strict read-only access/,
      /✓ PrivateTmp=/,
      /✓ SystemCallFilter=~@privileged/,
      /✓ CapabilityBoundingSet=~CAP_SYS_ADMIN/,
    ])
      assert.match(rated.out, line);

    // Control: the same service without its sandboxing fails the same threshold.
    const bare = join(tempDir("bulwark-unit-"), "bulwark-agent.service");
    const unsandboxed = readFileSync(UNIT, "utf8")
      .split("\n")
      .filter(
        (l) => !/^(# Sandboxing|[A-Z]\w+=)/.test(l) || /^(Description|Type|ExecStart|WantedBy)=/.test(l),
      )
      .join("\n");
    writeFileSync(bare, unsandboxed);
    const control = await analyze(bare);
    assert.notEqual(control.code, 0, "an unsandboxed unit is rated above the threshold");
    assert.match(control.out, /✗ User=\/DynamicUser=/);
  });
});
