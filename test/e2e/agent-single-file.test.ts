import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { statSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { AGENT_VERSION } from "../../packages/agent/src/metadata.ts";
import { AGENT_EXECUTABLE, buildExecutable, bundleAgent } from "../../scripts/build-agent.ts";
import { createToken, startTestServer, stopChild, type TestServer, tempDir, waitFor } from "../helpers.ts";

const exec = promisify(execFile);

describe("agent: the single executable (npm run build:agent) enrols and connects", () => {
  let server: TestServer;
  let agent: ReturnType<typeof spawn> | undefined;

  before(async () => {
    server = await startTestServer();
    await bundleAgent();
    buildExecutable();
  });
  after(async () => {
    if (agent) await stopChild(agent);
    await server.close();
  });

  it("runs as one file with no Node and no node_modules beside it", async () => {
    assert.ok(statSync(AGENT_EXECUTABLE).mode & 0o100, "executable");
    const stateDir = tempDir("bulwark-sea-");
    // An empty PATH and another working directory: nothing from the repository is reachable.
    const env = { PATH: "", HOME: stateDir };
    const enrolled = await exec(
      AGENT_EXECUTABLE,
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
      { env, cwd: stateDir, timeout: 60_000 },
    );
    const deviceId = /device ([0-9a-f-]{36})/.exec(enrolled.stderr)?.[1];
    assert.ok(deviceId, enrolled.stderr);
    agent = spawn(AGENT_EXECUTABLE, ["run", "--state-dir", stateDir, "--model", "sea-build"], {
      env,
      cwd: stateDir,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const device = await waitFor("single-file agent online", async () => {
      const res = await server.api<{ online: boolean; metadata: { model?: string; agentVersion?: string } }>(
        "GET",
        `/api/v1/devices/${deviceId}`,
      );
      return res.body.online && res.body.metadata.model === "sea-build" ? res.body : undefined;
    });
    assert.equal(device.metadata.agentVersion, AGENT_VERSION);
  });
});
