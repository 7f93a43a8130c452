import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { addressSet, clientKey, inSet, parseCidr, plainAddress } from "./addresses.ts";
import { connectionCeiling, FALLBACK_MAX_CONNECTIONS, openFileLimit } from "./descriptor-limit.ts";

describe("client addresses", () => {
  it("counts IPv4 per address, IPv4-mapped as IPv4, IPv6 per /64", () => {
    assert.equal(clientKey("192.0.2.7"), "192.0.2.7");
    assert.equal(clientKey("::ffff:192.0.2.7"), "192.0.2.7");
    assert.equal(plainAddress("::FFFF:192.0.2.7"), "192.0.2.7");
    assert.equal(clientKey("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
    assert.equal(clientKey("2001:db8:1:2::ffff"), "2001:db8:1:2::/64");
    assert.equal(clientKey("2001:0db8:0001:0002:0:0:0:1"), "2001:db8:1:2::/64");
    assert.notEqual(clientKey("2001:db8:1:3::1"), clientKey("2001:db8:1:2::1"));
    assert.equal(clientKey("::1"), "0:0:0:0::/64");
  });

  it("matches balancer CIDRs, single addresses, IPv4 clients on a dual-stack socket", () => {
    const set = addressSet(["10.1.0.0/16", "192.0.2.10", "2001:db8::/32"]);
    assert.ok(inSet(set, "10.1.200.3"));
    assert.ok(inSet(set, "::ffff:10.1.0.1"));
    assert.ok(inSet(set, "192.0.2.10"));
    assert.ok(inSet(set, "2001:db8:ffff::1"));
    assert.equal(inSet(set, "10.2.0.1"), false);
    assert.equal(inSet(set, "192.0.2.11"), false);
    assert.equal(inSet(set, "2001:db9::1"), false);
  });

  it("refuses what is not an address or CIDR, with the text in the message", () => {
    for (const bad of [
      "",
      "10.0.0.0/33",
      "10.0.0/8",
      "2001:db8::/129",
      "10.0.0.0/8/1",
      "lb.example",
      "10.0.0.0/-1",
    ])
      assert.throws(
        () => parseCidr(bad),
        new RegExp(`${JSON.stringify(bad).replaceAll("/", "\\/")} is not an IP address or CIDR`),
      );
    assert.deepEqual(parseCidr("10.0.0.0/8"), { network: "10.0.0.0", prefix: 8, family: "ipv4" });
  });
});

describe("descriptor limit and the connection ceiling", () => {
  it("reads the soft limit from a /proc limits file, 'unlimited' too", () => {
    const dir = mkdtempSync(join(tmpdir(), "bulwark-limits-"));
    const file = join(dir, "limits");
    writeFileSync(
      file,
      "Limit                     Soft Limit           Hard Limit           Units     \n" +
        "Max open files            2048                 4096                 files     \n",
    );
    assert.equal(openFileLimit(file), 2048);
    writeFileSync(file, "Max open files            unlimited            unlimited            files     \n");
    assert.equal(openFileLimit(file), Number.POSITIVE_INFINITY);
  });

  it("reads this process's own limit (the shell's ulimit agrees)", () => {
    const limit = openFileLimit();
    assert.ok(limit !== undefined && limit > 0);
    assert.equal(openFileLimit("/nonexistent/limits"), limit, "the shell fallback inherits the same limit");
  });

  it("keeps the cap below the limit by a reserve; a larger configured cap is lowered", () => {
    assert.deepEqual(connectionCeiling(undefined, 2048), {
      descriptorLimit: 2048,
      reserve: 205,
      maxConnections: 1843,
      lowered: false,
    });
    assert.equal(connectionCeiling(undefined, 20_000).maxConnections, 18_000);
    assert.equal(connectionCeiling(500, 2048).maxConnections, 500);
    assert.deepEqual(connectionCeiling(5000, 2048), {
      descriptorLimit: 2048,
      reserve: 205,
      maxConnections: 1843,
      lowered: true,
    });
    assert.equal(connectionCeiling(undefined, 256).maxConnections, 128, "at least 128 kept back");
    assert.equal(connectionCeiling(undefined, undefined).maxConnections, FALLBACK_MAX_CONNECTIONS);
    assert.equal(connectionCeiling(777, Number.POSITIVE_INFINITY).maxConnections, 777);
  });
});
