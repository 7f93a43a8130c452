import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { type Dirent, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import { createToken, startTestServer, type TestServer, tempDir } from "../../../test/helpers.ts";
import { loadDeviceKey, openAgentStore } from "./device-store.ts";
import { EnrolError, enroll } from "./enroll.ts";
import { createLog } from "./log.ts";
import { statePaths } from "./state.ts";

const log = createLog("error", () => {});

/** Every file under `dir` with its bytes (base64), by relative path. */
const filesOf = (dir: string): Record<string, string> =>
  Object.fromEntries(
    (readdirSync(dir, { recursive: true, withFileTypes: true }) as Dirent[])
      .filter((e) => e.isFile())
      .map((e) => {
        const path = join(e.parentPath, e.name);
        return [relative(dir, path), readFileSync(path).toString("base64")];
      }),
  );

describe("agent enrolment leaves either a whole enrolment or nothing", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  const options = (stateDir: string, token: string, extra: Partial<Parameters<typeof enroll>[0]> = {}) => ({
    serverUrl: server.httpUrl,
    token,
    caFingerprint: server.rootFingerprint,
    stateDir,
    ...extra,
  });

  it("a wrong fingerprint: refused, and no state directory is made", async () => {
    const stateDir = join(tempDir("bulwark-enrol-"), "state");
    await assert.rejects(
      enroll(options(stateDir, await createToken(server), { caFingerprint: "ab".repeat(32) }), log),
      /no CA certificate from the server matches the pinned fingerprint/,
    );
    assert.equal(existsSync(stateDir), false);
  });

  it("a refused token: refused, and no state directory is made", async () => {
    const stateDir = join(tempDir("bulwark-enrol-"), "state");
    await assert.rejects(enroll(options(stateDir, "not-a-token"), log), /\(HTTP 401\)/);
    assert.equal(existsSync(stateDir), false);
  });

  it("a malformed fingerprint is bad usage before anything is asked", async () => {
    const stateDir = join(tempDir("bulwark-enrol-"), "state");
    await assert.rejects(enroll(options(stateDir, "t", { caFingerprint: "xyz" }), log), EnrolError);
    assert.equal(existsSync(stateDir), false);
  });

  it("a success writes the key (a store record, 0600), certificates and agent.json (0600) in a 0700 directory", async () => {
    const stateDir = join(tempDir("bulwark-enrol-"), "state");
    const state = await enroll(options(stateDir, await createToken(server)), log);
    const paths = statePaths(stateDir);
    const keyRecord = join(stateDir, "store", "keys", "device.rec");
    assert.equal(statSync(stateDir).mode & 0o777, 0o700);
    assert.equal(statSync(keyRecord).mode & 0o777, 0o600);
    assert.equal(statSync(paths.state).mode & 0o777, 0o600);
    assert.ok(
      new X509Certificate(readFileSync(paths.cert)).checkPrivateKey(loadDeviceKey(openAgentStore(stateDir))),
    );
    assert.equal(JSON.parse(readFileSync(paths.state, "utf8")).deviceId, state.deviceId);
    assert.deepEqual(
      readdirSync(stateDir).filter((n) => n.includes(".tmp-")),
      [],
      "no temporary files left",
    );
  });

  it("a failed re-enrolment with --force keeps the earlier enrolment as it was", async () => {
    const stateDir = join(tempDir("bulwark-enrol-"), "state");
    await enroll(options(stateDir, await createToken(server)), log);
    const before = filesOf(stateDir);
    await assert.rejects(enroll(options(stateDir, "not-a-token", { force: true }), log), /\(HTTP 401\)/);
    const after = filesOf(stateDir);
    assert.deepEqual(after, before);
    await assert.rejects(enroll(options(stateDir, await createToken(server)), log), /already enrolled/);
  });

  it("a wipe receipt still to deliver: enrolment refused (a run would erase it), with --force the wipe is finished and dropped", async () => {
    const stateDir = join(tempDir("bulwark-enrol-"), "state");
    await enroll(options(stateDir, await createToken(server)), log);
    writeFileSync(join(stateDir, "wipe-receipt.json"), "{}");
    await assert.rejects(
      enroll(options(stateDir, await createToken(server), { force: true, token: "not-a-token" }), log),
      /\(HTTP 401\)/,
    );
    assert.ok(existsSync(join(stateDir, "wipe-receipt.json")), "a failed enrolment drops nothing");
    await assert.rejects(
      enroll(options(stateDir, await createToken(server)), log),
      /a wipe of this device is still to be confirmed to the server \(wipe-receipt.json\)/,
    );
    // Positive control: with --force the enrolment is made and the receipt is gone.
    const state = await enroll(options(stateDir, await createToken(server), { force: true }), log);
    assert.equal(existsSync(join(stateDir, "wipe-receipt.json")), false);
    assert.equal(JSON.parse(readFileSync(statePaths(stateDir).state, "utf8")).deviceId, state.deviceId);
    assert.ok(loadDeviceKey(openAgentStore(stateDir)));
  });
});
