import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { cpSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it, type TestContext } from "node:test";
import type { JobNotify } from "@bulwark/sdk/wire/jobs";
import { tempDir } from "../../../../test/helpers.ts";
import { missingTools, startSwtpm } from "../../../../test/tpm-helpers.ts";
import { openAgentStore, storePaths } from "../device-store.ts";
import { createLog } from "../log.ts";
import type { TpmOptions } from "../tpm-kek.ts";
import { JobStore, type LocalJob } from "./job-store.ts";
import { agentFloorAnchor, tpmFloorAnchor } from "./tpm-floor.ts";

function skipWithoutTools(t: TestContext): boolean {
  const missing = missingTools();
  if (!missing) return false;
  if (process.env.BULWARK_REQUIRE_SERVICES === "1") assert.fail(missing);
  t.skip(missing);
  return true;
}

const done = (jobId: string, version: string): LocalJob => ({
  note: {
    type: "update",
    jobId,
    deploymentId: "d",
    productId: "p",
    state: "notified",
    targets: [{ path: `firmware/${version}/fw.img`, artifact: "binary" }],
    component: "firmware",
    version,
    kind: "security",
    mandatory: true,
    maxDeferralSeconds: 0,
    window: null,
    network: { metered: "allow" },
    rollback: false,
    issuedAt: 1,
  } satisfies JobNotify,
  firstSeenAt: Number(version.replaceAll(".", "")),
  state: "succeeded",
});

describe("agent: the anti-rollback floor held in a TPM NV index (swtpm + tpm2-tools)", () => {
  const tpms: ChildProcess[] = [];
  let tpm: TpmOptions;
  let nextIndex = 0x01310c00;
  before(async () => {
    if (missingTools()) return;
    const started = await startSwtpm();
    tpms.push(started.process);
    tpm = started.tpm;
  });
  after(() => {
    for (const child of tpms) child.kill("SIGTERM");
  });

  /** A device whose store's KEK is sealed in the TPM, with its own NV index for the floor. */
  function device(writable = true) {
    const dir = join(tempDir("bulwark-tpm-floor-"), "state");
    const n = nextIndex++;
    // Each device its own persistent handle for its KEK and NV index for its floor, in one TPM.
    const store = openAgentStore(dir, {
      tpm: { ...tpm, handle: `0x${(0x81010c00 + (n & 0xff)).toString(16)}` },
    });
    const index = `0x${n.toString(16).padStart(8, "0")}`;
    const anchor = tpmFloorAnchor(tpm, index, writable);
    const errors: string[] = [];
    const log = createLog("error", (l) => errors.push((JSON.parse(l) as { msg: string }).msg));
    const jobs = new JobStore(store, dir, log, anchor);
    const install = (jobId: string, version: string) => {
      jobs.put(done(jobId, version));
      jobs.setInstalled("firmware", version, true);
    };
    const stateDir = join(storePaths(dir).store, "state");
    return { dir, store, index, anchor, errors, log, jobs, install, stateDir };
  }

  it("a copy of the whole store put back does not lower the floor: the TPM's applies, said once", async (t) => {
    if (skipWithoutTools(t)) return;
    const d = device();
    d.install("job-100", "1.0.0");
    const snapshot = join(tempDir("bulwark-snap-"), "state");
    cpSync(d.stateDir, snapshot, { recursive: true });
    d.install("job-120", "1.2.0");
    assert.deepEqual(d.anchor.read(), { floors: { firmware: "1.2.0" }, counters: {} });

    // Positive control: the same rollback read without the anchor lowers the floor.
    rmSync(d.stateDir, { recursive: true });
    cpSync(snapshot, d.stateDir, { recursive: true });
    const unanchored = new JobStore(d.store, d.dir, d.log);
    assert.equal(unanchored.installed().components.firmware?.floor, "1.0.0");

    assert.deepEqual(d.jobs.installed(), { components: { firmware: { version: "1.2.0", floor: "1.2.0" } } });
    assert.equal(d.errors.length, 1);
    assert.match(
      d.errors[0]!,
      /anti-rollback floor in the store is below the one held in the TPM NV index 0x01310c/,
    );
    assert.equal(
      unanchored.installed().components.firmware?.floor,
      "1.2.0",
      "the records were written again",
    );
    d.jobs.installed();
    assert.equal(d.errors.length, 1, "said once");
  });

  it("the signed counter floor is held in the TPM too: a copy of the store put back does not lower it", async (t) => {
    if (skipWithoutTools(t)) return;
    const d = device();
    d.jobs.setInstalled("firmware", "1.0.0", false, 0);
    const snapshot = join(tempDir("bulwark-snap-"), "state");
    cpSync(d.stateDir, snapshot, { recursive: true });
    d.jobs.setInstalled("firmware", "1.1.0", false, 1);
    assert.deepEqual(d.anchor.read(), { floors: {}, counters: { firmware: 1 } });
    rmSync(d.stateDir, { recursive: true });
    cpSync(snapshot, d.stateDir, { recursive: true });
    assert.equal(
      new JobStore(d.store, d.dir, d.log).installed().components.firmware?.counter,
      0,
      "positive control",
    );
    assert.deepEqual(d.jobs.installed().components.firmware, { version: "1.0.0", floor: null, counter: 1 });
    assert.match(d.errors[0]!, /anti-rollback floor in the store is below the one held in the TPM NV index/);
    d.anchor.raise({ floors: {}, counters: { firmware: 0 } }, (a) => a);
    assert.deepEqual(d.anchor.read().counters, { firmware: 1 }, "never lowered");
  });

  it("every update record deleted: the floor comes back from the TPM", async (t) => {
    if (skipWithoutTools(t)) return;
    const d = device();
    d.install("job-130", "1.3.0");
    for (const name of readdirSync(d.stateDir))
      if (name.startsWith("updates.")) rmSync(join(d.stateDir, name));
    assert.equal(
      new JobStore(d.store, d.dir, d.log).installed().components.firmware,
      undefined,
      "gone from the store",
    );
    assert.deepEqual(d.jobs.installed().components.firmware, { version: "1.3.0", floor: "1.3.0" });
    assert.deepEqual(d.errors, [], "no records is no rollback: said at info level");
  });

  it("a floor kept only in the store (an upgraded agent) is copied into the TPM; a read-only anchor writes nothing", async (t) => {
    if (skipWithoutTools(t)) return;
    const d = device();
    new JobStore(d.store, d.dir, d.log).setInstalled("firmware", "2.0.0", true);
    const readOnly = tpmFloorAnchor(tpm, d.index, false);
    new JobStore(d.store, d.dir, d.log, readOnly).installed();
    assert.deepEqual(
      d.anchor.read(),
      { floors: {}, counters: {} },
      "the command line's read-only anchor did not write",
    );
    d.jobs.installed();
    assert.deepEqual(d.anchor.read(), { floors: { firmware: "2.0.0" }, counters: {} });
    d.anchor.raise({ floors: { firmware: "1.0.0" }, counters: {} }, (a) => a);
    assert.deepEqual(d.anchor.read(), { floors: { firmware: "2.0.0" }, counters: {} }, "never lowered");
  });

  it("a TPM that cannot be read: rollback jobs are refused while it lasts, nothing is marked in the store", async (t) => {
    if (skipWithoutTools(t)) return;
    const d = device();
    d.install("job-100", "1.0.0");
    const unreachable = tpmFloorAnchor({ tcti: "swtpm:host=127.0.0.1,port=9" }, d.index);
    const errors: string[] = [];
    const log = createLog("error", (l) => errors.push((JSON.parse(l) as { msg: string }).msg));
    const broken = new JobStore(d.store, d.dir, log, unreachable);
    assert.equal(broken.installed().floorRebuilt, true);
    assert.match(errors[0]!, /cannot be read: rollback jobs are refused until it can/);
    broken.setInstalled("firmware", "1.1.0", false);
    assert.deepEqual(d.jobs.installed(), { components: { firmware: { version: "1.1.0", floor: "1.0.0" } } });
  });

  it("the agent uses the TPM for the floor only where its store's KEK is sealed there", async (t) => {
    if (skipWithoutTools(t)) return;
    const d = device();
    assert.equal(agentFloorAnchor(d.dir, { tpm })?.where, "TPM NV index 0x01310b17");
    const fileKek = join(tempDir("bulwark-tpm-floor-"), "state");
    openAgentStore(fileKek, { tpm: null });
    assert.equal(agentFloorAnchor(fileKek, { tpm }), undefined);
    assert.equal(agentFloorAnchor(d.dir, { tpm: null }), undefined);
  });
});
