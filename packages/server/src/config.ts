import { isIP } from "node:net";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_HEARTBEAT_MS } from "./mqtt/instance-liveness.ts";

/** Everything the server is configured with; built once from argv and the environment. */
export interface Config {
  dataDir: string;
  http: { host: string; port: number };
  mqtt: { host: string; port: number };
  /** Names and addresses that the TLS server certificate covers and clients connect to. */
  publicNames: { dns: string[]; ips: string[] };
  publicUrl: string;
  publicMqttUrl: string;
  masterKey: string | undefined;
  bootstrapAdminKeyFile: string | undefined;
  logLevel: string;
  /** Where the data lives: the embedded SQLite file in the data dir, or a shared PostgreSQL. */
  store: { kind: "sqlite" } | { kind: "postgres"; url: string };
  /** Redis for the broker's pub/sub and sessions and the control bus (scale-out); none = in-process. */
  redisUrl: string | undefined;
  /** What every Redis key and channel of this deployment begins with (deployments sharing one Redis). */
  redisPrefix: string;
  /** How often this process writes its heartbeat; its devices are shown offline after 3 missed beats. */
  heartbeatMs: number;
  /** Webhooks may POST to loopback and link-local addresses (refused by default: SSRF). */
  webhookAllowLocal: boolean;
  /** Webhooks may use plain http URLs (refused by default: findings would travel in clear text). */
  webhookAllowHttp: boolean;
  /** Largest update artifact accepted for upload, in bytes (issue #15). */
  maxArtifactBytes: number;
}

export class ConfigError extends Error {}

const USAGE = `Usage: bulwark-server [options]
  --data DIR                       data directory (default ./data, env BULWARK_DATA)
  --http-host HOST --http-port N   HTTPS listener (default 127.0.0.1:8443)
  --mqtt-host HOST --mqtt-port N   MQTT/TLS listener (default 127.0.0.1:8883)
  --public-name NAME               extra DNS name or IP for the TLS certificate (repeatable)
  --public-url URL                 URL devices and clients use (default https://<http-host>:<http-port>)
  --bootstrap-admin-key-file PATH  on first start, write an admin API key to PATH (mode 0600)
  --log-level LEVEL                trace|debug|info|warn|error (default info, env BULWARK_LOG_LEVEL)
  --store sqlite|postgres          data store (default sqlite in the data dir, env BULWARK_STORE)
  --database-url URL               PostgreSQL URL for --store postgres (env BULWARK_DATABASE_URL)
  --webhook-allow-local            let webhooks reach loopback and link-local addresses (refused
                                   by default; env BULWARK_WEBHOOK_ALLOW_LOCAL=1)
  --webhook-allow-http             let webhooks use plain http:// URLs (https only by default;
                                   env BULWARK_WEBHOOK_ALLOW_HTTP=1); independent of allow-local
  --redis-url URL                  Redis for broker pub/sub, sessions and control events between
                                   processes (scale-out; env BULWARK_REDIS_URL)
  --redis-prefix PREFIX            what this deployment's Redis keys and channels begin with
                                   (default bulwark:, env BULWARK_REDIS_PREFIX): one per deployment
                                   sharing a Redis; every process of one deployment uses the same
  --max-artifact-bytes N           largest update artifact accepted (default 4 GiB,
                                   env BULWARK_MAX_ARTIFACT_BYTES)
Environment: BULWARK_MASTER_KEY (32-byte key-encryption key, hex or base64),
  BULWARK_HEARTBEAT_MS (server process heartbeat, default 10000: in scale-out, the devices of a
  process that missed 3 beats are shown offline by the others)`;

function heartbeat(value: string | undefined): number {
  if (value === undefined) return DEFAULT_HEARTBEAT_MS;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 100 || n > 600_000)
    throw new ConfigError(`BULWARK_HEARTBEAT_MS must be an integer from 100 to 600000, got ${value}`);
  return n;
}

function port(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new ConfigError(`${name} must be a port number, got ${value}`);
  return n;
}

export function parseConfig(argv: string[], env: NodeJS.ProcessEnv): Config | "help" {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      data: { type: "string" },
      "http-host": { type: "string" },
      "http-port": { type: "string" },
      "mqtt-host": { type: "string" },
      "mqtt-port": { type: "string" },
      "public-name": { type: "string", multiple: true },
      "public-url": { type: "string" },
      "bootstrap-admin-key-file": { type: "string" },
      "log-level": { type: "string" },
      "webhook-allow-local": { type: "boolean" },
      "webhook-allow-http": { type: "boolean" },
      store: { type: "string" },
      "database-url": { type: "string" },
      "redis-url": { type: "string" },
      "redis-prefix": { type: "string" },
      "max-artifact-bytes": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  const http = {
    host: values["http-host"] ?? env.BULWARK_HTTP_HOST ?? "127.0.0.1",
    port: port(values["http-port"] ?? env.BULWARK_HTTP_PORT, 8443, "--http-port"),
  };
  const mqtt = {
    host: values["mqtt-host"] ?? env.BULWARK_MQTT_HOST ?? "127.0.0.1",
    port: port(values["mqtt-port"] ?? env.BULWARK_MQTT_PORT, 8883, "--mqtt-port"),
  };
  const names = new Set(["localhost", "127.0.0.1", "::1", ...(values["public-name"] ?? [])]);
  for (const host of [http.host, mqtt.host]) if (host !== "0.0.0.0" && host !== "::") names.add(host);
  const publicNames = {
    dns: [...names].filter((n) => !isIP(n)).sort(),
    ips: [...names].filter((n) => isIP(n)).sort(),
  };
  const urlHost = (host: string) =>
    host === "0.0.0.0" || host === "::" ? "localhost" : isIP(host) === 6 ? `[${host}]` : host;
  const publicUrl =
    values["public-url"] ?? env.BULWARK_PUBLIC_URL ?? `https://${urlHost(http.host)}:${http.port}`;
  const level = values["log-level"] ?? env.BULWARK_LOG_LEVEL ?? "info";
  if (!["trace", "debug", "info", "warn", "error", "fatal", "silent"].includes(level))
    throw new ConfigError(`unknown log level ${level}`);
  return {
    dataDir: resolve(values.data ?? env.BULWARK_DATA ?? "data"),
    http,
    mqtt,
    publicNames,
    publicUrl,
    publicMqttUrl: env.BULWARK_PUBLIC_MQTT_URL ?? `mqtts://${new URL(publicUrl).hostname}:${mqtt.port}`,
    masterKey: env.BULWARK_MASTER_KEY,
    bootstrapAdminKeyFile: values["bootstrap-admin-key-file"],
    logLevel: level,
    store: storeConfig(values.store ?? env.BULWARK_STORE, values["database-url"] ?? env.BULWARK_DATABASE_URL),
    redisUrl: redisUrl(values["redis-url"] ?? env.BULWARK_REDIS_URL),
    redisPrefix: redisPrefix(
      values["redis-prefix"] ?? env.BULWARK_REDIS_PREFIX,
      values["redis-url"] ?? env.BULWARK_REDIS_URL,
    ),
    heartbeatMs: heartbeat(env.BULWARK_HEARTBEAT_MS),
    webhookAllowLocal: values["webhook-allow-local"] === true || env.BULWARK_WEBHOOK_ALLOW_LOCAL === "1",
    webhookAllowHttp: values["webhook-allow-http"] === true || env.BULWARK_WEBHOOK_ALLOW_HTTP === "1",
    maxArtifactBytes: byteCount(values["max-artifact-bytes"] ?? env.BULWARK_MAX_ARTIFACT_BYTES),
  };
}

function byteCount(value: string | undefined): number {
  if (value === undefined) return 4 * 1024 ** 3;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new ConfigError("--max-artifact-bytes must be a positive integer");
  return n;
}

function storeConfig(kind: string | undefined, url: string | undefined): Config["store"] {
  const chosen = kind ?? (url ? "postgres" : "sqlite");
  switch (chosen) {
    case "sqlite":
      if (url) throw new ConfigError("--database-url needs --store postgres");
      return { kind: "sqlite" };
    case "postgres":
      if (!url) throw new ConfigError("--store postgres needs --database-url (or BULWARK_DATABASE_URL)");
      if (!/^postgres(ql)?:\/\/[^/]/.test(url))
        throw new ConfigError("--database-url must be a postgres:// URL");
      return { kind: "postgres", url };
    default:
      throw new ConfigError(`--store must be sqlite or postgres, got ${chosen}`);
  }
}

function redisUrl(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  if (!/^rediss?:\/\/[^/]/.test(url))
    throw new ConfigError("--redis-url must be a redis:// or rediss:// URL");
  return url;
}

export const DEFAULT_REDIS_PREFIX = "bulwark:";

/**
 * Letters, digits and `._:-` only: the prefix goes into Redis key names, into channel patterns
 * (where `*?[]` are glob characters) and into MQTT topics (where `/+#` are separators and wildcards).
 */
function redisPrefix(prefix: string | undefined, url: string | undefined): string {
  if (prefix === undefined) return DEFAULT_REDIS_PREFIX;
  if (url === undefined) throw new ConfigError("--redis-prefix needs --redis-url (or BULWARK_REDIS_URL)");
  if (!/^[A-Za-z0-9._:-]{1,64}$/.test(prefix))
    throw new ConfigError(
      `--redis-prefix must be 1 to 64 letters, digits or . _ : - (e.g. "plant-a:"), got ${JSON.stringify(prefix)}`,
    );
  return prefix;
}

export { USAGE };
