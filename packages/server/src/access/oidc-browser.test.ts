import assert from "node:assert/strict";
import { test } from "node:test";
import { BulwarkError } from "@bulwark/sdk/errors";
import { consoleReturnPath } from "./oidc-browser.ts";

test("console return paths: same-origin console pages pass, normalised", () => {
  assert.equal(consoleReturnPath(undefined), undefined);
  assert.equal(consoleReturnPath(""), undefined);
  assert.equal(consoleReturnPath("/"), "/");
  assert.equal(consoleReturnPath("/devices/42?tab=certs#x"), "/devices/42?tab=certs#x");
  assert.equal(consoleReturnPath("/a/../devices"), "/devices");
  assert.equal(consoleReturnPath("/findings?q=a b"), "/findings?q=a%20b");
  assert.equal(consoleReturnPath("/%2F%2Fevil.example"), "/%2F%2Fevil.example", "encoded: still a path here");
});

test("console return paths: anything that could leave the console is refused", () => {
  for (const raw of [
    "https://evil.example/",
    "http:/evil.example",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\/evil.example",
    "/x\\y",
    "javascript:alert(1)",
    "devices",
    " /devices",
    "/devices\r\nLocation: https://evil.example",
    "/\tx",
    "/x\u0000",
    "/api/v1/devices",
    "/api",
    "/devices/../api/v1/users",
    "/.well-known/est/cacerts",
    // Dot segments removed (RFC 3986 §5.2.4, WHATWG URL) leave `//host`: another host to a browser.
    "/.//evil.example",
    "/..//evil.example",
    "/%2e//evil.example",
    "/%2E%2E//evil.example",
    "/.%2e//evil.example",
    "/a/..//evil.example",
    "/a/b/../..//evil.example/x?y#z",
    "/./%2e/..//evil.example",
    `/${"a".repeat(1000)}`,
  ])
    assert.throws(
      () => consoleReturnPath(raw),
      (e: unknown) => e instanceof BulwarkError && e.code === "BW_ERR_VALIDATION",
      JSON.stringify(raw),
    );
});
