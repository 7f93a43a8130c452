import { isIP } from "node:net";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_HEARTBEAT_MS } from "./mqtt/instance-liveness.ts";
import { parseCidr } from "./net/addresses.ts";
import type { ConnectionLimits } from "./net/connection-limits.ts";
import type { StoreChoice } from "./store/open.ts";

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
  store: StoreChoice;
  /** Redis for the broker's pub/sub and sessions and the control bus (scale-out); none = in-process. */
  redisUrl: string | undefined;
  /** What every Redis key and channel of this deployment begins with (deployments sharing one Redis). */
  redisPrefix: string;
  /** How often this process writes its heartbeat; its devices are shown offline after 3 missed beats. */
  heartbeatMs: number;
  /**
   * How long a session on a certificate superseded by renewal stays up, so the device reconnects
   * with its new certificate before the old one's session is closed (issue #13 (6)).
   */
  renewalGraceMs: number;
  /** How long a device has to answer a transfer command (sent again on each of its reconnects) before the transfer fails. */
  transferDeadlineMs: number;
  /** Webhooks may POST to loopback and link-local addresses (refused by default: SSRF). */
  webhookAllowLocal: boolean;
  /** Webhooks may use plain http URLs (refused by default: findings would travel in clear text). */
  webhookAllowHttp: boolean;
  /** Largest update artifact accepted for upload, in bytes (issue #15). */
  maxArtifactBytes: number;
  /** Binary deltas made at publish (issue #15 item 10): image size cap (0: none) and how many previous releases. */
  delta: { maxImageBytes: number; maxSegmentedImageBytes: number; baseReleases: number };
  /** Start on a data directory that group or others may access (refused by default: keys live there). */
  allowOpenDataDir: boolean;
  /** Admission on both listeners (issue #13): caps, deadlines and the load balancers' PROXY protocol. */
  connections: ConnectionLimits;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  maxConnections: undefined,
  mqttMaxPerAddress: 1000,
  httpMaxPerAddress: 256,
  handshakeTimeoutMs: 5000,
  mqttConnectTimeoutMs: 10_000,
  httpRequestTimeoutMs: 10_000,
  proxyProtocolFrom: [],
};

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
  --allow-open-data-dir            start even if group or others may access the data directory
                                   (refused by default: it holds the keys and the database;
                                   env BULWARK_ALLOW_OPEN_DATA_DIR=1)
  --renewal-grace-seconds N        after a renewal, how long the device's session on its old
                                   (now superseded) certificate stays up while it reconnects with
                                   the new one (0-3600, default 60, env BULWARK_RENEWAL_GRACE_SECONDS)
  --transfer-deadline-seconds N    how long a device has to answer a device-transfer command
                                   (sent again each time it reconnects) before the transfer fails
                                   (1-2592000, default 86400, env BULWARK_TRANSFER_DEADLINE_SECONDS)
  --redis-url URL                  Redis for broker pub/sub, sessions and control events between
                                   processes (scale-out; env BULWARK_REDIS_URL)
  --redis-prefix PREFIX            what this deployment's Redis keys and channels begin with
                                   (default bulwark:, env BULWARK_REDIS_PREFIX): one per deployment
                                   sharing a Redis; every process of one deployment uses the same
  --max-artifact-bytes N           largest update artifact accepted (default 4 GiB,
                                   env BULWARK_MAX_ARTIFACT_BYTES)
  --delta-max-image-bytes N        largest image a binary delta is made for at publish, 0 for
                                   none (default 32 MiB, at most 64 MiB; the server holds the
                                   base in memory plus ~8 bytes per base byte of tables;
                                   env BULWARK_DELTA_MAX_IMAGE_BYTES)
  --delta-max-segmented-bytes N    largest image a segmented delta is made for when it is over
                                   the cap above, 0 for none (default 1 GiB; server and device
                                   hold one 8 MiB segment and its 24 MiB reference at a time,
                                   the publish waits ~1 s per 8 MiB; env
                                   BULWARK_DELTA_MAX_SEGMENTED_BYTES)
  --delta-base-releases N          deltas from each of the N previous published releases of the
                                   component (0-10, default 1, env BULWARK_DELTA_BASE_RELEASES)
Connection limits (both listeners; each flag also reads the env named beside it):
  --max-connections N              open client connections in all (BULWARK_MAX_CONNECTIONS;
                                   default and ceiling: the descriptor limit read at start, less
                                   10% and at least 128 kept for the server's own files)
  --mqtt-max-per-address N         concurrent MQTT connections from one address, IPv6 per /64
                                   (default 1000, BULWARK_MQTT_MAX_PER_ADDRESS); devices behind
                                   one NAT share it
  --http-max-per-address N         concurrent HTTPS connections from one address, IPv6 per /64
                                   (default 256, BULWARK_HTTP_MAX_PER_ADDRESS)
  --handshake-timeout-ms N         from TCP accept to a completed TLS handshake (default 5000,
                                   3000 to 120000, BULWARK_HANDSHAKE_TIMEOUT_MS)
  --mqtt-connect-timeout-ms N      from the TLS handshake to the MQTT CONNECT (default 10000,
                                   1000 to 120000, BULWARK_MQTT_CONNECT_TIMEOUT_MS)
  --http-request-timeout-ms N      from the TLS handshake to the first HTTPS request (default
                                   10000, 1000 to 120000, BULWARK_HTTP_REQUEST_TIMEOUT_MS)
  --proxy-protocol-from CIDR       a TCP load balancer's address or CIDR (repeatable; env
                                   BULWARK_PROXY_PROTOCOL_FROM, comma-separated): its connections
                                   must start with a PROXY protocol v2 header, which then gives
                                   the client's address; no other peer's header is trusted
Environment: BULWARK_MASTER_KEY (32-byte key-encryption key, hex or base64),
  BULWARK_HEARTBEAT_MS (server process heartbeat, default 10000: in scale-out, the devices of a
  process that missed 3 beats are shown offline by the others, and its sessions' MQTT wills are
  published by them within 4 beats; a background delta job it computed is taken over after 3)`;

function heartbeat(value: string | undefined): number {
  if (value === undefined) return DEFAULT_HEARTBEAT_MS;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 100 || n > 600_000)
    throw new ConfigError(`BULWARK_HEARTBEAT_MS must be an integer from 100 to 600000, got ${value}`);
  return n;
}

function integer(
  value: string | undefined,
  fallback: number,
  name: string,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max)
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
  return n;
}

type Values = Record<string, string | string[] | boolean | undefined>;

function connectionLimits(values: Values, env: NodeJS.ProcessEnv): ConnectionLimits {
  const d = DEFAULT_CONNECTION_LIMITS;
  const flag = (name: string, envName: string) => (values[name] as string | undefined) ?? env[envName];
  const max = flag("max-connections", "BULWARK_MAX_CONNECTIONS");
  const from =
    (values["proxy-protocol-from"] as string[] | undefined) ??
    (env.BULWARK_PROXY_PROTOCOL_FROM ?? "").split(",").filter((s) => s.trim() !== "");
  for (const cidr of from)
    try {
      parseCidr(cidr);
    } catch (error) {
      throw new ConfigError(`--proxy-protocol-from: ${(error as Error).message}`);
    }
  return {
    maxConnections: max === undefined ? undefined : integer(max, 0, "--max-connections", 1, 10_000_000),
    mqttMaxPerAddress: integer(
      flag("mqtt-max-per-address", "BULWARK_MQTT_MAX_PER_ADDRESS"),
      d.mqttMaxPerAddress,
      "--mqtt-max-per-address",
      1,
      10_000_000,
    ),
    httpMaxPerAddress: integer(
      flag("http-max-per-address", "BULWARK_HTTP_MAX_PER_ADDRESS"),
      d.httpMaxPerAddress,
      "--http-max-per-address",
      1,
      10_000_000,
    ),
    // proxy-protocol.txt §2: a header deadline of at least 3 s covers a TCP retransmit.
    handshakeTimeoutMs: integer(
      flag("handshake-timeout-ms", "BULWARK_HANDSHAKE_TIMEOUT_MS"),
      d.handshakeTimeoutMs,
      "--handshake-timeout-ms",
      3000,
      120_000,
    ),
    mqttConnectTimeoutMs: integer(
      flag("mqtt-connect-timeout-ms", "BULWARK_MQTT_CONNECT_TIMEOUT_MS"),
      d.mqttConnectTimeoutMs,
      "--mqtt-connect-timeout-ms",
      1000,
      120_000,
    ),
    httpRequestTimeoutMs: integer(
      flag("http-request-timeout-ms", "BULWARK_HTTP_REQUEST_TIMEOUT_MS"),
      d.httpRequestTimeoutMs,
      "--http-request-timeout-ms",
      1000,
      120_000,
    ),
    proxyProtocolFrom: from.map((s) => s.trim()),
  };
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
      "allow-open-data-dir": { type: "boolean" },
      store: { type: "string" },
      "database-url": { type: "string" },
      "redis-url": { type: "string" },
      "redis-prefix": { type: "string" },
      "max-artifact-bytes": { type: "string" },
      "delta-max-image-bytes": { type: "string" },
      "delta-max-segmented-bytes": { type: "string" },
      "delta-base-releases": { type: "string" },
      "renewal-grace-seconds": { type: "string" },
      "transfer-deadline-seconds": { type: "string" },
      "max-connections": { type: "string" },
      "mqtt-max-per-address": { type: "string" },
      "http-max-per-address": { type: "string" },
      "handshake-timeout-ms": { type: "string" },
      "mqtt-connect-timeout-ms": { type: "string" },
      "http-request-timeout-ms": { type: "string" },
      "proxy-protocol-from": { type: "string", multiple: true },
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
    renewalGraceMs:
      integer(
        values["renewal-grace-seconds"] ?? env.BULWARK_RENEWAL_GRACE_SECONDS,
        60,
        "--renewal-grace-seconds",
        0,
        3600,
      ) * 1000,
    transferDeadlineMs:
      integer(
        values["transfer-deadline-seconds"] ?? env.BULWARK_TRANSFER_DEADLINE_SECONDS,
        86_400,
        "--transfer-deadline-seconds",
        1,
        30 * 86_400,
      ) * 1000,
    webhookAllowLocal: values["webhook-allow-local"] === true || env.BULWARK_WEBHOOK_ALLOW_LOCAL === "1",
    webhookAllowHttp: values["webhook-allow-http"] === true || env.BULWARK_WEBHOOK_ALLOW_HTTP === "1",
    maxArtifactBytes: byteCount(values["max-artifact-bytes"] ?? env.BULWARK_MAX_ARTIFACT_BYTES),
    delta: {
      maxImageBytes: integer(
        values["delta-max-image-bytes"] ?? env.BULWARK_DELTA_MAX_IMAGE_BYTES,
        32 * 1024 * 1024,
        "--delta-max-image-bytes",
        0,
        64 * 1024 * 1024,
      ),
      maxSegmentedImageBytes: integer(
        values["delta-max-segmented-bytes"] ?? env.BULWARK_DELTA_MAX_SEGMENTED_BYTES,
        1024 ** 3,
        "--delta-max-segmented-bytes",
        0,
        Number.MAX_SAFE_INTEGER,
      ),
      baseReleases: integer(
        values["delta-base-releases"] ?? env.BULWARK_DELTA_BASE_RELEASES,
        1,
        "--delta-base-releases",
        0,
        10,
      ),
    },
    allowOpenDataDir: values["allow-open-data-dir"] === true || env.BULWARK_ALLOW_OPEN_DATA_DIR === "1",
    connections: connectionLimits(values, env),
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
