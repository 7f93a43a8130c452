import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, parseConfig, USAGE } from "./config.ts";

const parse = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
  const config = parseConfig(argv, env);
  if (config === "help") throw new Error("unexpected help");
  return config;
};

describe("store and scale-out configuration", () => {
  it("defaults to the embedded SQLite store and no Redis", () => {
    const config = parse([]);
    assert.deepEqual(config.store, { kind: "sqlite" });
    assert.equal(config.redisUrl, undefined);
  });

  it("takes PostgreSQL and Redis from flags or the environment", () => {
    const url = "postgres://bulwark@db.example:5432/bulwark";
    assert.deepEqual(parse(["--store", "postgres", "--database-url", url]).store, { kind: "postgres", url });
    assert.deepEqual(parse([], { BULWARK_DATABASE_URL: url }).store, { kind: "postgres", url });
    assert.equal(parse(["--redis-url", "redis://127.0.0.1:6379/2"]).redisUrl, "redis://127.0.0.1:6379/2");
    assert.equal(parse([], { BULWARK_REDIS_URL: "rediss://r.example" }).redisUrl, "rediss://r.example");
  });

  it("refuses incomplete or contradictory settings with a clear message", () => {
    assert.throws(
      () => parse(["--store", "postgres"]),
      (e) => e instanceof ConfigError && /needs --database-url/.test(e.message),
    );
    assert.throws(() => parse(["--store", "mysql"]), /must be sqlite or postgres/);
    assert.throws(
      () => parse(["--store", "sqlite", "--database-url", "postgres://x/y"]),
      /needs --store postgres/,
    );
    assert.throws(() => parse(["--database-url", "mysql://x/y"]), /must be a postgres:\/\/ URL/);
    assert.throws(() => parse(["--redis-url", "http://x"]), /must be a redis:\/\//);
  });

  it("namespaces Redis per deployment: prefix bulwark: unless set, validated", () => {
    const url = "redis://127.0.0.1:6379";
    assert.equal(parse(["--redis-url", url]).redisPrefix, "bulwark:");
    assert.equal(parse(["--redis-url", url, "--redis-prefix", "plant-a:"]).redisPrefix, "plant-a:");
    assert.equal(
      parse([], { BULWARK_REDIS_URL: url, BULWARK_REDIS_PREFIX: "eu.prod:" }).redisPrefix,
      "eu.prod:",
    );
    assert.throws(() => parse(["--redis-prefix", "plant-a:"]), /--redis-prefix needs --redis-url/);
    for (const bad of ["", "a/b", "a#", "a+", "a*", "a b", "x".repeat(65)])
      assert.throws(
        () => parse(["--redis-url", url, "--redis-prefix", bad]),
        (e) => e instanceof ConfigError && /--redis-prefix must be/.test(e.message),
        JSON.stringify(bad),
      );
  });
});

describe("webhook opt-ins", () => {
  it("https only and no local destinations by default; each opt-in on its own", () => {
    const strict = parse([]);
    assert.equal(strict.webhookAllowLocal, false);
    assert.equal(strict.webhookAllowHttp, false);
    const local = parse(["--webhook-allow-local"]);
    assert.equal(local.webhookAllowLocal, true);
    assert.equal(local.webhookAllowHttp, false, "allow-local does not imply plain http");
    assert.equal(parse(["--webhook-allow-http"]).webhookAllowHttp, true);
    assert.equal(parse([], { BULWARK_WEBHOOK_ALLOW_HTTP: "1" }).webhookAllowHttp, true);
    assert.equal(parse([], { BULWARK_WEBHOOK_ALLOW_HTTP: "yes" }).webhookAllowHttp, false);
  });
});

describe("data directory opt-in", () => {
  it("an open data directory is refused unless --allow-open-data-dir (or its env), documented in --help", () => {
    assert.equal(parse([]).allowOpenDataDir, false);
    assert.equal(parse(["--allow-open-data-dir"]).allowOpenDataDir, true);
    assert.equal(parse([], { BULWARK_ALLOW_OPEN_DATA_DIR: "1" }).allowOpenDataDir, true);
    assert.equal(parse([], { BULWARK_ALLOW_OPEN_DATA_DIR: "true" }).allowOpenDataDir, false);
    assert.match(
      USAGE,
      /--allow-open-data-dir\s+start even if group or others may access the data directory/,
    );
  });
});

describe("connection limits (issue #13)", () => {
  it("has documented defaults: cap from the descriptor limit, 1000 MQTT and 256 HTTPS per address, 5 s handshake, 10 s CONNECT and first-request deadlines", () => {
    assert.deepEqual(parse([]).connections, {
      maxConnections: undefined,
      mqttMaxPerAddress: 1000,
      httpMaxPerAddress: 256,
      handshakeTimeoutMs: 5000,
      mqttConnectTimeoutMs: 10_000,
      httpRequestTimeoutMs: 10_000,
      proxyProtocolFrom: [],
    });
  });

  it("takes each from a flag or the environment; balancers repeat or come comma-separated", () => {
    const flags = parse([
      "--max-connections",
      "5000",
      "--mqtt-max-per-address",
      "20",
      "--http-max-per-address",
      "10",
      "--handshake-timeout-ms",
      "3000",
      "--mqtt-connect-timeout-ms",
      "2000",
      "--http-request-timeout-ms",
      "2500",
      "--proxy-protocol-from",
      "10.0.0.0/8",
      "--proxy-protocol-from",
      "2001:db8::7",
    ]).connections;
    assert.deepEqual(flags, {
      maxConnections: 5000,
      mqttMaxPerAddress: 20,
      httpMaxPerAddress: 10,
      handshakeTimeoutMs: 3000,
      mqttConnectTimeoutMs: 2000,
      httpRequestTimeoutMs: 2500,
      proxyProtocolFrom: ["10.0.0.0/8", "2001:db8::7"],
    });
    const env = parse([], {
      BULWARK_MAX_CONNECTIONS: "700",
      BULWARK_MQTT_MAX_PER_ADDRESS: "7",
      BULWARK_HTTP_MAX_PER_ADDRESS: "8",
      BULWARK_HANDSHAKE_TIMEOUT_MS: "4000",
      BULWARK_MQTT_CONNECT_TIMEOUT_MS: "5000",
      BULWARK_HTTP_REQUEST_TIMEOUT_MS: "6000",
      BULWARK_PROXY_PROTOCOL_FROM: "10.1.0.0/16, 10.2.0.9",
    }).connections;
    assert.deepEqual(env, {
      maxConnections: 700,
      mqttMaxPerAddress: 7,
      httpMaxPerAddress: 8,
      handshakeTimeoutMs: 4000,
      mqttConnectTimeoutMs: 5000,
      httpRequestTimeoutMs: 6000,
      proxyProtocolFrom: ["10.1.0.0/16", "10.2.0.9"],
    });
  });

  it("refuses values out of range and balancer addresses that are not addresses, naming the flag", () => {
    const cases: [string[], RegExp][] = [
      [["--max-connections", "0"], /--max-connections must be an integer from 1/],
      [["--mqtt-max-per-address", "1.5"], /--mqtt-max-per-address must be an integer/],
      [["--http-max-per-address=-1"], /--http-max-per-address must be an integer/],
      [["--handshake-timeout-ms", "1000"], /--handshake-timeout-ms must be an integer from 3000 to 120000/],
      [["--mqtt-connect-timeout-ms", "999999"], /--mqtt-connect-timeout-ms must be an integer from 1000/],
      [
        ["--proxy-protocol-from", "lb.example"],
        /--proxy-protocol-from: "lb.example" is not an IP address or CIDR/,
      ],
      [["--proxy-protocol-from", "10.0.0.0/40"], /--proxy-protocol-from: "10.0.0.0\/40" is not/],
    ];
    for (const [argv, message] of cases)
      assert.throws(
        () => parse(argv),
        (e) => e instanceof ConfigError && message.test(e.message),
        argv.join(" "),
      );
  });
});
