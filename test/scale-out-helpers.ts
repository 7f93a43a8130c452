import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { httpsRequest } from "../packages/sdk/src/https.ts";
import { NODE, ROOT, type TestServer, tempDir, waitFor } from "./helpers.ts";
import { REDIS_URL } from "./services.ts";

/** A server process started from `npm start`'s entry point (scale-out tests). */
export interface ServerProcess {
  child: ChildProcess;
  stderr: string[];
  /** Its structured log (pino JSON lines on stdout). */
  stdout: string[];
  httpUrl: string;
  mqttPort: number;
  fingerprint: string;
  firstStart: boolean;
}

/** `npm start`'s entry point as a real child process; resolves once its banner is printed. */
export async function startProcess(args: string[], env: Record<string, string> = {}): Promise<ServerProcess> {
  const child = spawn(NODE, [join(ROOT, "packages/server/src/main.ts"), ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      BULWARK_LOG_LEVEL: process.env.SCALE_DEBUG ? "info" : "warn",
      // Short heartbeats, so a killed process is found dead within about a second.
      BULWARK_HEARTBEAT_MS: "300",
      ...env,
    },
  });
  const stderr: string[] = [];
  const stdout: string[] = [];
  child.stderr!.on("data", (chunk: Buffer) => stderr.push(chunk.toString("utf8")));
  child.stdout!.on("data", (chunk: Buffer) => {
    stdout.push(chunk.toString("utf8"));
    if (process.env.SCALE_DEBUG) process.stdout.write(chunk);
  });
  const banner = await waitFor(
    "server banner",
    async () => {
      if (child.exitCode !== null) throw new Error(`server exited: ${stderr.join("")}`);
      const text = stderr.join("");
      return /Root CA SHA-256 fingerprint[^\n]*\n/.test(text) && text;
    },
    60_000,
  );
  return {
    child,
    stderr,
    stdout,
    httpUrl: /HTTPS API\s+(\S+)/.exec(banner)![1]!,
    mqttPort: Number(/MQTT\/TLS\s+\S+:(\d+)/.exec(banner)![1]),
    fingerprint: /fingerprint \(devices pin this\): ([0-9a-f]{64})/.exec(banner)![1]!,
    firstStart: banner.includes("First start"),
  };
}

/** The parsed log lines of a process whose message is `msg` (and whose fields match `fields`). */
export function logged(server: ServerProcess, msg: string, fields: Record<string, unknown> = {}): number {
  let count = 0;
  for (const line of server.stdout.join("").split("\n")) {
    if (!line.startsWith("{")) continue;
    const entry = JSON.parse(line) as Record<string, unknown>;
    if (entry.msg === msg && Object.entries(fields).every(([k, v]) => entry[k] === v)) count++;
  }
  return count;
}

/** Enough of a TestServer for the EST helpers, talking to one process's API: JSON, or raw bytes (an artifact upload). */
export function apiOf(httpUrl: string, rootPem: string, adminKey: string): TestServer {
  return {
    httpUrl,
    rootPem,
    async api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
      const raw = Buffer.isBuffer(body);
      const res = await httpsRequest({
        url: new URL(path, httpUrl).href,
        method,
        ca: rootPem,
        headers: {
          authorization: `Bearer ${adminKey}`,
          ...(body === undefined || raw ? {} : { "content-type": "application/json" }),
          ...headers,
        },
        body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
      });
      const text = res.body.toString("utf8");
      return {
        status: res.status,
        body: text.startsWith("{") ? JSON.parse(text) : text,
        headers: res.headers,
      };
    },
  } as unknown as TestServer;
}

export async function connect(
  port: number,
  rootPem: string,
  device: { deviceId: string; keyPem: string; certChainPem: string },
  extra: mqtt.IClientOptions = {},
) {
  const client = mqtt.connect(`mqtts://127.0.0.1:${port}`, {
    protocolVersion: 4,
    clientId: device.deviceId,
    reconnectPeriod: 0,
    key: device.keyPem,
    cert: device.certChainPem,
    ca: rootPem,
    minVersion: "TLSv1.3",
    ...extra,
  } as mqtt.IClientOptions);
  await new Promise<void>((resolve, reject) => {
    client.once("connect", () => resolve());
    client.once("error", reject);
  });
  return client;
}

/** Resolves when the client's connection closes; fails (rather than hangs) if that never happens. */
export const closed = (client: MqttClient, what: string) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: the session was not closed`)), 20_000);
    client.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
  });

/**
 * Two server processes over one PostgreSQL schema and Redis, on one fresh data directory (the
 * shared master key and CA), with the bootstrap admin's API on each.
 */
export async function twoProcesses(
  schema: { url: string; name: string },
  prefix: string,
): Promise<{
  a: ServerProcess;
  b: ServerProcess;
  servers: ServerProcess[];
  rootPem: string;
  adminKey: string;
  apiA: TestServer;
  apiB: TestServer;
}> {
  const dir = tempDir(prefix);
  const keyFile = join(dir, "admin.key");
  const common = [
    ...["--data", join(dir, "data"), "--store", "postgres", "--database-url", schema.url],
    ...["--redis-url", REDIS_URL, "--redis-prefix", `test-${schema.name}:`],
    ...["--http-port", "0", "--mqtt-port", "0", "--bootstrap-admin-key-file", keyFile],
  ];
  const a = await startProcess(common);
  const b = await startProcess(common);
  const rootPem = readFileSync(join(dir, "data", "root-ca.pem"), "utf8");
  const adminKey = readFileSync(keyFile, "utf8").trim();
  return {
    a,
    b,
    servers: [a, b],
    rootPem,
    adminKey,
    apiA: apiOf(a.httpUrl, rootPem, adminKey),
    apiB: apiOf(b.httpUrl, rootPem, adminKey),
  };
}
