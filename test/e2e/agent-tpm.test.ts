import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DEFAULT_TPM_HANDLE } from "../../packages/agent/src/tpm-kek.ts";
import {
  AGENT,
  createToken,
  NODE,
  runCli,
  startTestServer,
  stopChild,
  type TestServer,
  tempDir,
  waitFor,
} from "../helpers.ts";
import { missingTools, startSwtpm } from "../tpm-helpers.ts";

describe("agent with a TPM 2.0 (swtpm): enrols, keeps no key file, connects, resets", () => {
  let server: TestServer;
  const children: ChildProcess[] = [];
  let tcti: string;
  const missing = missingTools();

  before(async () => {
    if (missing) return;
    const swtpm = await startSwtpm();
    children.push(swtpm.process);
    tcti = swtpm.tpm.tcti;
    server = await startTestServer();
  });
  after(async () => {
    for (const child of children.reverse()) await stopChild(child);
    await server?.close();
  });

  it("the KEK is sealed in the TPM from enrolment on; the agent runs on it; reset evicts it", async (t) => {
    if (missing) {
      if (process.env.BULWARK_REQUIRE_SERVICES === "1") assert.fail(missing);
      t.skip(missing);
      return;
    }
    const stateDir = join(tempDir("bulwark-agent-tpm-"), "state");
    const env = { TPM2TOOLS_TCTI: tcti };
    const enrolled = await runCli(
      AGENT,
      [
        "enroll",
        "--server",
        server.httpUrl,
        "--token",
        await createToken(server),
        "--ca-fingerprint",
        server.rootFingerprint,
        "--state-dir",
        stateDir,
      ],
      env,
    );
    assert.equal(enrolled.code, 0, enrolled.stderr);
    const deviceId = /device ([0-9a-f-]{36})/.exec(enrolled.stderr)![1]!;
    assert.equal(existsSync(join(stateDir, "data.key")), false, "no key file: the KEK is in the TPM");
    assert.ok(existsSync(join(stateDir, "data.key.tpm.json")));

    const agent = spawn(NODE, [AGENT, "run", "--state-dir", stateDir], {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, ...env },
    });
    children.push(agent);
    await waitFor("agent online on its TPM-sealed store", async () => {
      const res = await server.api<{ online: boolean }>("GET", `/api/v1/devices/${deviceId}`);
      return res.body.online;
    });
    await stopChild(agent);

    const handles = () =>
      execFileSync("tpm2_getcap", ["handles-persistent"], { env: { ...process.env, ...env } })
        .toString()
        .toLowerCase();
    assert.ok(handles().includes(DEFAULT_TPM_HANDLE), "positive control: the sealed KEK is in the TPM");
    const reset = await runCli(AGENT, ["reset", "--state-dir", stateDir], env);
    assert.equal(reset.code, 0, reset.stderr);
    assert.equal(handles().includes(DEFAULT_TPM_HANDLE), false, "reset evicted it");
    const again = await runCli(AGENT, ["run", "--state-dir", stateDir], env);
    assert.match(again.stderr, /not enrolled/);
  });
});
