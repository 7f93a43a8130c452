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
