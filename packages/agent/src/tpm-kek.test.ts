import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { cpSync, existsSync, mkdtempSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it, type TestContext } from "node:test";
import { tempDir } from "../../../test/helpers.ts";
import { destroyKek, loadDeviceKey, openAgentStore, saveDeviceKey, storePaths } from "./device-store.ts";
import { DEFAULT_TPM_HANDLE, openTpmKek, TpmError, type TpmOptions, tpmMarker } from "./tpm-kek.ts";

/** Why the TPM tests cannot run here, if they cannot. */
function missingTools(): string | undefined {
  for (const tool of ["swtpm", "tpm2_createprimary", "tpm2_unseal"]) {
    try {
      execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    } catch {
      return `${tool} is not installed (apt-get install swtpm swtpm-tools tpm2-tools)`;
    }
  }
  return undefined;
}

/** Two adjacent free loopback ports (swtpm's TCTI puts the control channel on port + 1), found by binding port 0. */
async function freePortPair(): Promise<number> {
  const listen = (port: number) =>
    new Promise<ReturnType<typeof createServer> | undefined>((resolve) => {
      const s = createServer();
      s.once("error", () => resolve(undefined));
      s.listen(port, "127.0.0.1", () => resolve(s));
    });
  for (;;) {
    const first = (await listen(0))!;
    const port = (first.address() as { port: number }).port;
    const second = port < 65535 ? await listen(port + 1) : undefined;
    await new Promise((r) => first.close(r));
    if (second) {
      await new Promise((r) => second.close(r));
      return port;
    }
  }
}

const reachable = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });

/** A software TPM 2.0 (swtpm) on loopback, its state in a temporary directory. */
async function startSwtpm(): Promise<{ tpm: TpmOptions; process: ChildProcess }> {
  const port = await freePortPair();
  const state = mkdtempSync(join(tmpdir(), "bulwark-swtpm-"));
  const child = spawn(
    "swtpm",
    [
      "socket",
      "--tpm2",
      "--server",
      `type=tcp,port=${port},bindaddr=127.0.0.1`,
      "--ctrl",
      `type=tcp,port=${port + 1},bindaddr=127.0.0.1`,
      "--tpmstate",
      `dir=${state}`,
      "--flags",
      "not-need-init,startup-clear",
    ],
    { stdio: "ignore" },
  );
  for (let i = 0; i < 200 && !(await reachable(port)); i++) await new Promise((r) => setTimeout(r, 25));
  return { tpm: { tcti: `swtpm:host=127.0.0.1,port=${port}` }, process: child };
}

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
