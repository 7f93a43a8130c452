import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pino from "pino";
import { httpsRequest } from "../packages/sdk/src/https.ts";
import { type RunningServer, startServer } from "../packages/server/src/app.ts";
import { parseConfig } from "../packages/server/src/config.ts";

const run = promisify(execFile);
export const ROOT = new URL("..", import.meta.url).pathname;
export const NODE = process.execPath;
export const AGENT = join(ROOT, "packages/agent/src/main.ts");
export const CLI = join(ROOT, "packages/cli/src/main.ts");

export interface TestServer extends RunningServer {
  dir: string;
  adminKey: string;
  rootPem: string;
  api<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: T; headers: Record<string, unknown> }>;
  close(): Promise<void>;
}

/** A real server on loopback: temporary data directory, ephemeral ports, real TLS and SQLite. */
export async function startTestServer(
  options: {
    dir?: string;
    logLines?: string[] /** extra server flags, e.g. --store postgres */;
    args?: string[];
  } = {},
): Promise<TestServer> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "bulwark-test-"));
  const keyFile = join(dir, "admin.key");
  const config = parseConfig(
    [
      "--data",
      join(dir, "data"),
      "--http-port",
      "0",
      "--mqtt-port",
      "0",
      "--bootstrap-admin-key-file",
      keyFile,
      ...(options.args ?? []),
    ],
    {},
  );
  if (config === "help") throw new Error("unreachable");
  const lines = options.logLines;
  const log = lines
    ? pino({ level: "debug" }, { write: (line: string) => lines.push(line) })
    : pino({ level: "silent" });
  let server: RunningServer;
  try {
    server = await startServer(config, log);
  } catch (error) {
    throw new Error(`server did not start: ${(error as Error).message}`, { cause: error });
  }
  const adminKey = readFileSync(keyFile, "utf8").trim();
  const rootPem = readFileSync(server.rootPemPath, "utf8");
  return {
    ...server,
    dir,
    adminKey,
    rootPem,
    async api(method, path, body, headers = {}) {
      const res = await httpsRequest({
        url: new URL(path, server.httpUrl).href,
        method,
        ca: rootPem,
        headers: {
          authorization: `Bearer ${adminKey}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          ...headers,
        },
        body:
          body === undefined
            ? undefined
            : typeof body === "string" || Buffer.isBuffer(body)
              ? body
              : JSON.stringify(body),
      });
      const text = res.body.toString("utf8");
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {}
      return { status: res.status, body: parsed as never, headers: res.headers };
    },
    async close() {
      await server.stop();
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function createToken(
  server: TestServer,
  group = "default",
  extra: Record<string, unknown> = {},
): Promise<string> {
  const res = await server.api<{ token: string }>("POST", "/api/v1/enrolment-tokens", { group, ...extra });
  if (res.status !== 201) throw new Error(`token create failed: ${JSON.stringify(res.body)}`);
  return res.body.token;
}

/**
 * Runs a package's CLI entry point as a child process on the pinned Node. A process that does not
 * exit within `timeoutMs` is killed and fails the test: a hang is never read as an exit code.
 */
export async function runCli(
  script: string,
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 50_000,
) {
  try {
    const { stdout, stderr } = await run(NODE, [script, ...args], {
      env: { ...process.env, ...env },
      timeout: timeoutMs,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; killed?: boolean; signal?: string; stdout?: string; stderr?: string };
    if (typeof e.code !== "number")
      throw new Error(
        `${script} ${args.join(" ")} did not exit by itself (${e.killed ? `killed after ${timeoutMs} ms` : e.signal}): ${e.stderr}`,
      );
    return { code: e.code, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

export function spawnAgent(stateDir: string, extra: string[] = []): ChildProcess {
  return spawn(NODE, [AGENT, "run", "--state-dir", stateDir, ...extra], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, BULWARK_AGENT_LOG_LEVEL: "debug" },
  });
}

export async function stopChild(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  child.kill("SIGTERM");
  return exited;
}

/** Polls `check` until it returns a value or the deadline passes (a bound on waiting, not a timing assertion). */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Enrols the real agent CLI (`bulwark-agent enroll`) with a token; returns its state dir and device id. */
export async function enrolAgent(
  server: TestServer,
  token: string,
  options: { stateDir?: string; args?: string[] } = {},
): Promise<{ stateDir: string; deviceId: string; stderr: string }> {
  const stateDir = options.stateDir ?? tempDir("bulwark-agent-");
  const enrolled = await runCli(AGENT, [
    "enroll",
    "--server",
    server.httpUrl,
    "--token",
    token,
    "--ca-fingerprint",
    server.rootFingerprint,
    "--state-dir",
    stateDir,
    ...(options.args ?? []),
  ]);
  if (enrolled.code !== 0) throw new Error(`agent enrol failed (exit ${enrolled.code}): ${enrolled.stderr}`);
  const deviceId = /device ([0-9a-f-]{36})/.exec(enrolled.stderr)?.[1];
  if (!deviceId) throw new Error(`agent enrol printed no device id: ${enrolled.stderr}`);
  return { stateDir, deviceId, stderr: enrolled.stderr };
}
