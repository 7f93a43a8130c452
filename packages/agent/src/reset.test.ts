import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { cpSync, linkSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { memoryKek, openStore, StoreTamperError } from "@bulwark/sdk/store";
import { AGENT, runCli, tempDir } from "../../../test/helpers.ts";
import { openAgentStore, saveDeviceKey, storePaths } from "./device-store.ts";
import { spoolEvent } from "./security-events.ts";
import { statePaths } from "./state.ts";
import { resetAgent } from "./wipe.ts";

/** A state directory with a store holding a device key, a configuration and a queued event. */
function populated(): string {
  const dir = join(tempDir("bulwark-reset-"), "state");
  const store = openAgentStore(dir);
  saveDeviceKey(store, generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey);
  store.putJson("state", "config", { policy: "baseline" });
  spoolEvent(store, "login-failed", "before the reset");
  writeFileSync(statePaths(dir).state, JSON.stringify({ deviceId: "d" }));
  return dir;
}

describe("agent: reset and crypto-erase", () => {
  it("the KEK is overwritten before it is deleted: a copy of its blocks no longer opens the store", () => {
    const dir = populated();
    const outside = tempDir("bulwark-reset-remains-");
    // What a forensic read of the medium could still find: the KEK file's blocks and the records.
    linkSync(storePaths(dir).kek, join(outside, "kek-blocks"));
    cpSync(storePaths(dir).store, join(outside, "store"), { recursive: true });
    const kekBefore = readFileSync(storePaths(dir).kek);
    assert.equal(
      openStore({ dir: join(outside, "store"), kek: memoryKek(kekBefore) }).getJson<{ policy: string }>(
        "state",
        "config",
      )?.policy,
      "baseline",
      "positive control: the copied store opens with the KEK as it was",
    );

    assert.equal(resetAgent(dir), true);
    assert.deepEqual(readdirSync(dir), [], "first-boot state: an empty directory");
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    const remains = readFileSync(join(outside, "kek-blocks"));
    assert.notDeepEqual(remains.subarray(0, 32), kekBefore, "the KEK's blocks were overwritten");
    assert.throws(
      () => openStore({ dir: join(outside, "store"), kek: memoryKek(remains.subarray(0, 32)) }),
      (e: unknown) => e instanceof StoreTamperError && e.event.reason === "authentication-failed",
    );
  });

  it("bulwark-agent reset empties the state directory; run then says the device is not enrolled", async () => {
    const dir = populated();
    const reset = await runCli(AGENT, ["reset", "--state-dir", dir]);
    assert.equal(reset.code, 0, reset.stderr);
    assert.match(reset.stderr, /local state crypto-erased/);
    assert.deepEqual(readdirSync(dir), []);
    const again = await runCli(AGENT, ["reset", "--state-dir", dir]);
    assert.equal(again.code, 0);
    assert.match(again.stderr, /nothing to erase/);
    const run = await runCli(AGENT, ["run", "--state-dir", dir]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /not enrolled/);
  });
});
