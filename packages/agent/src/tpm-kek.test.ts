import assert from "node:assert/strict";
import { type ChildProcess, execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { cpSync, existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it, type TestContext } from "node:test";
import { tempDir } from "../../../test/helpers.ts";
import { missingTools, startSwtpm } from "../../../test/tpm-helpers.ts";
import { destroyKek, loadDeviceKey, openAgentStore, saveDeviceKey, storePaths } from "./device-store.ts";
import { DEFAULT_TPM_HANDLE, openTpmKek, TpmError, type TpmOptions, tpmMarker } from "./tpm-kek.ts";

const persistentHandles = (tpm: TpmOptions) =>
  execFileSync("tpm2_getcap", ["handles-persistent"], { env: { ...process.env, TPM2TOOLS_TCTI: tpm.tcti } })
    .toString()
    .toLowerCase();

function skipWithoutTools(t: TestContext): boolean {
  const missing = missingTools();
  if (!missing) return false;
  if (process.env.BULWARK_REQUIRE_SERVICES === "1") assert.fail(missing);
  t.skip(missing);
  return true;
}

describe("agent: the store's KEK sealed to a TPM 2.0 (swtpm + tpm2-tools)", () => {
  const tpms: ChildProcess[] = [];
  let tpm: TpmOptions;
  before(async () => {
    if (missingTools()) return;
    const started = await startSwtpm();
    tpms.push(started.process);
    tpm = started.tpm;
  });
  after(() => {
    for (const child of tpms) child.kill("SIGTERM");
  });

  it("a new device seals its KEK in the TPM: no key file, the records open again only through the TPM", async (t) => {
    if (skipWithoutTools(t)) return;
    const dir = join(tempDir("bulwark-tpm-"), "state");
    const key = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
    saveDeviceKey(openAgentStore(dir, { tpm }), key);
    assert.equal(existsSync(storePaths(dir).kek), false, "no data.key where there is a TPM");
    assert.ok(existsSync(tpmMarker(dir)));
    assert.ok(persistentHandles(tpm).includes(DEFAULT_TPM_HANDLE));
    const again = loadDeviceKey(openAgentStore(dir, { tpm }));
    assert.deepEqual(again.export({ format: "jwk" }), key.export({ format: "jwk" }));
    assert.throws(() => openAgentStore(dir, { tpm: null }), /sealed to a TPM, and no TPM is reachable/);

    // Another TPM (another owner seed) cannot unseal it, even given every file of the device.
    const other = await startSwtpm();
    tpms.push(other.process);
    assert.throws(() => openTpmKek(dir, other.tpm), TpmError);
    destroyKek(dir, tpm);
  });

  it("a device with a 0600 key file moves its KEK into the TPM and crypto-erases the file", (t) => {
    if (skipWithoutTools(t)) return;
    const dir = join(tempDir("bulwark-tpm-"), "state");
    openAgentStore(dir, { tpm: null }).putJson("state", "config", { policy: "baseline" });
    assert.ok(existsSync(storePaths(dir).kek), "positive control: the file KEK");
    const moved = openAgentStore(dir, { tpm });
    assert.equal(existsSync(storePaths(dir).kek), false);
    assert.deepEqual(moved.getJson("state", "config"), { policy: "baseline" });
    destroyKek(dir, tpm);
  });

  it("crypto-erase evicts the sealed KEK: a copy of the whole state directory no longer opens", (t) => {
    if (skipWithoutTools(t)) return;
    const dir = join(tempDir("bulwark-tpm-"), "state");
    openAgentStore(dir, { tpm }).putJson("state", "config", { policy: "baseline" });
    const copy = join(tempDir("bulwark-tpm-copy-"), "state");
    cpSync(dir, copy, { recursive: true });
    assert.deepEqual(openAgentStore(copy, { tpm }).getJson("state", "config"), { policy: "baseline" });

    destroyKek(dir, tpm);
    assert.equal(persistentHandles(tpm).includes(DEFAULT_TPM_HANDLE), false, "evicted from the TPM");
    assert.equal(existsSync(tpmMarker(dir)), false);
    assert.throws(() => openAgentStore(copy, { tpm }), /tpm2_unseal/);
  });
});
