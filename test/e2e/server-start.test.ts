import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ROOT, runCli, tempDir } from "../helpers.ts";

const SERVER = join(ROOT, "packages/server/src/main.ts");

/** A port held by another listener on loopback for the whole test. */
async function holdPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("no port");
  return { server, port: address.port };
}

describe("server start-up: a listener that cannot bind stops the server with its reason", () => {
  let held: { server: Server; port: number };
  before(async () => {
    held = await holdPort();
  });
  after(() => {
    held.server.close();
  });

  for (const [listener, flag, other] of [
    ["MQTT/TLS", "--mqtt-port", "--http-port"],
    ["HTTPS", "--http-port", "--mqtt-port"],
  ] as const)
    it(`exits 1 naming the ${listener} listener and EADDRINUSE when its port is in use`, async () => {
      const result = await runCli(
        SERVER,
        ["--data", join(tempDir("bulwark-start-"), "data"), flag, String(held.port), other, "0"],
        { BULWARK_LOG_LEVEL: "error" },
        40_000,
      );
      assert.equal(result.code, 1, result.stderr);
      assert.match(
        result.stderr,
        new RegExp(
          `cannot listen for ${listener.replace("/", "\\/")} on 127\\.0\\.0\\.1:${held.port}: .*EADDRINUSE`,
        ),
      );
      assert.doesNotMatch(result.stderr, /Bulwark is running/);
    });
});
