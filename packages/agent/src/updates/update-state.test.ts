import assert from "node:assert/strict";
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { StoreTamperEvent } from "@bulwark/sdk/store";
import { DELTA_FORMATS } from "@bulwark/sdk/wire/delta";
import type { JobNotify, JobStatusReport } from "@bulwark/sdk/wire/jobs";
import { sanitiseMetadata } from "@bulwark/sdk/wire/metadata";
import { tempDir } from "../../../../test/helpers.ts";
import { openAgentStore, storePaths } from "../device-store.ts";
import { type AgentLog, createLog } from "../log.ts";
import { readConsent, writeConsent } from "./consent.ts";
import { APPLICABLE_DELTA_FORMATS } from "./delta-apply.ts";
import { JobStore, type LocalJob } from "./job-store.ts";
import { tufMetadataStore } from "./tuf-store.ts";
import { UpdateAgent } from "./update-agent.ts";
import { CONSENT_RECORD, FLOOR_RECORD, INSTALLED_RECORD, jobRecord, tufRecord } from "./update-records.ts";

/** A log that keeps its lines, and the store's tamper reports. */
function device() {
  const dir = join(tempDir("bulwark-update-state-"), "state");
  const lines: { level: string; msg: string }[] = [];
  const log: AgentLog = createLog("debug", (l) => lines.push(JSON.parse(l)));
  const events: StoreTamperEvent[] = [];
  const open = () => openAgentStore(dir, { tpm: null, onSecurityEvent: (e) => events.push(e) });
  return { dir, lines, log, events, store: open(), open };
}

const recordFile = (dir: string, name: string) => join(storePaths(dir).store, "state", `${name}.rec`);

/** Flips one bit of the record's ciphertext on disk. */
function tamper(dir: string, name: string): void {
  const file = recordFile(dir, name);
  const bytes = readFileSync(file);
  bytes[bytes.length - 20]! ^= 0x01;
  writeFileSync(file, bytes);
}

const note = (jobId: string, extra: Partial<JobNotify> = {}): JobNotify => ({
  type: "update",
  jobId,
  deploymentId: "d",
  productId: "11111111-2222-4333-8444-555555555555",
  state: "notified",
  targets: [{ path: "firmware/1.2.0/fw.img", artifact: "binary" }],
  component: "firmware",
  version: "1.2.0",
  kind: "security",
  mandatory: true,
  maxDeferralSeconds: 3600,
  window: null,
  network: { metered: "allow" },
  rollback: false,
  issuedAt: 1,
  ...extra,
});

const succeeded = (jobId: string, version: string, kind: "security" | "feature"): LocalJob => ({
  note: note(jobId, { version, kind }),
  firstSeenAt: Number(version.replaceAll(".", "")),
  state: "succeeded",
});

function install(jobs: JobStore, jobId: string, version: string, security = true) {
  jobs.put(succeeded(jobId, version, security ? "security" : "feature"));
  jobs.setInstalled("firmware", version, security);
}

describe("agent update state in the encrypted store", () => {
  it("nothing of it is readable on disk: no JSON files, no versions or job ids in the records", () => {
    const d = device();
    const jobs = new JobStore(d.store, d.dir, d.log);
    writeConsent(d.store, { automatic: false, refused: ["job-secret-a"], approved: [] });
    install(jobs, "job-secret-b", "7.7.7");
    assert.equal(readConsent(d.store, d.log).automatic, false);
    assert.equal(jobs.installed().components.firmware?.floor, "7.7.7");
    assert.deepEqual(readdirSync(join(d.dir, "updates")), ["downloads"], "only the download directory");
    const names = readdirSync(join(storePaths(d.dir).store, "state")).sort();
    assert.deepEqual(names, [
      `${CONSENT_RECORD}.rec`,
      `${FLOOR_RECORD}.rec`,
      `${INSTALLED_RECORD}.rec`,
      `${jobRecord("job-secret-b")}.rec`,
    ]);
    for (const name of names) {
      const text = readFileSync(join(storePaths(d.dir).store, "state", name)).toString("latin1");
      for (const secret of ["7.7.7", "job-secret", "automatic", "firmware"])
        assert.equal(text.includes(secret), false, `${secret} in ${name}`);
    }
  });

  it("a tampered consent record is reported, and replaced by the default (automatic install) once", () => {
    const d = device();
    writeConsent(d.store, { automatic: false, deferUntil: 9e15, refused: ["j"], approved: [] });
    assert.equal(readConsent(d.store, d.log).automatic, false, "positive control: the choice is read back");
    assert.equal(d.events.length, 0);
    tamper(d.dir, CONSENT_RECORD);
    assert.deepEqual(readConsent(d.store, d.log), { automatic: true, refused: [], approved: [] });
    assert.deepEqual(
      d.events.map((e) => [e.location, e.reason]),
      [[{ kind: "record", purpose: "state", name: CONSENT_RECORD }, "authentication-failed"]],
    );
    assert.match(d.lines.find((l) => l.level === "error")!.msg, /consent record failed its integrity check/);
    readConsent(d.store, d.log);
    assert.equal(d.events.length, 1, "rewritten with the default: reported once");
  });

  it("the floor survives a tampered, deleted or rolled-back floor or installed record; a rebuilt one is marked", () => {
    const d = device();
    const jobs = new JobStore(d.store, d.dir, d.log);
    install(jobs, "job-100", "1.0.0");
    const snapshot = join(tempDir("bulwark-snap-"), "state");
    cpSync(join(storePaths(d.dir).store, "state"), snapshot, { recursive: true });
    install(jobs, "job-120", "1.2.0");
    install(jobs, "job-130", "1.3.0", false);
    assert.deepEqual(jobs.installed(), { components: { firmware: { version: "1.3.0", floor: "1.2.0" } } });

    // The installed record replaced by its older copy (not detectable by the store itself).
    cpSync(join(snapshot, `${INSTALLED_RECORD}.rec`), recordFile(d.dir, INSTALLED_RECORD));
    assert.deepEqual(jobs.installed().components.firmware, { version: "1.2.0", floor: "1.2.0" });
    // Both the installed and the floor record rolled back: the succeeded security job still says 1.2.0.
    cpSync(join(snapshot, `${FLOOR_RECORD}.rec`), recordFile(d.dir, FLOOR_RECORD));
    assert.equal(jobs.installed().components.firmware?.floor, "1.2.0");
    assert.equal(jobs.installed().floorRebuilt, undefined);
    assert.equal(d.events.length, 0, "an older copy of a record authenticates: no event");

    // A tampered floor record: reported, rebuilt from the rest, and rollback jobs are refused from then on.
    tamper(d.dir, FLOOR_RECORD);
    const rebuilt = jobs.installed();
    assert.equal(rebuilt.components.firmware?.floor, "1.2.0");
    assert.equal(rebuilt.floorRebuilt, true);
    assert.equal(d.events.length, 1);
    assert.match(
      d.lines.filter((l) => l.level === "error").at(-1)!.msg,
      /anti-rollback floor record failed its integrity check or is missing/,
    );
    assert.equal(jobs.installed().floorRebuilt, true, "kept in the rewritten record");
    assert.equal(d.events.length, 1, "rewritten: reported once");

    // A deleted floor record beside an installed one counts as lost too.
    const other = device();
    const otherJobs = new JobStore(other.store, other.dir, other.log);
    install(otherJobs, "job-200", "2.0.0");
    assert.equal(otherJobs.installed().floorRebuilt, undefined, "positive control");
    rmSync(recordFile(other.dir, FLOOR_RECORD));
    assert.deepEqual(otherJobs.installed(), {
      components: { firmware: { version: "2.0.0", floor: "2.0.0" } },
      floorRebuilt: true,
    });

    // A tampered installed record: rebuilt from the floor and the succeeded jobs.
    tamper(other.dir, INSTALLED_RECORD);
    assert.equal(otherJobs.installed().components.firmware?.version, "2.0.0");
    assert.equal(other.events.length, 1);
  });

  it("the counter floor is the highest signed counter installed, kept like the version floor", () => {
    const d = device();
    const jobs = new JobStore(d.store, d.dir, d.log);
    const put = (jobId: string, version: string, counter: number) => {
      jobs.put({ ...succeeded(jobId, version, "feature"), counter });
      jobs.setInstalled("firmware", version, false, counter);
    };
    put("job-100", "1.0.0", 0);
    const snapshot = join(tempDir("bulwark-snap-"), "state");
    cpSync(join(storePaths(d.dir).store, "state"), snapshot, { recursive: true });
    // A feature release after a security release this device never installed: counter 1, no version floor.
    put("job-110", "1.1.0", 1);
    assert.deepEqual(jobs.installed(), {
      components: { firmware: { version: "1.1.0", floor: null, counter: 1 } },
    });
    // The last known-good with the same counter: the floor stays; it never goes down.
    put("job-105", "1.0.5", 1);
    jobs.setInstalled("firmware", "1.0.5", false, 0);
    assert.equal(jobs.installed().components.firmware?.counter, 1);
    // Both records rolled back to the copy with counter 0: the succeeded job with counter 1 still says 1.
    cpSync(join(snapshot, `${INSTALLED_RECORD}.rec`), recordFile(d.dir, INSTALLED_RECORD));
    cpSync(join(snapshot, `${FLOOR_RECORD}.rec`), recordFile(d.dir, FLOOR_RECORD));
    assert.equal(jobs.installed().components.firmware?.counter, 1);
    // A tampered floor record: rebuilt with the counter, and marked.
    tamper(d.dir, FLOOR_RECORD);
    assert.equal(jobs.installed().components.firmware?.counter, 1);
    assert.equal(jobs.installed().floorRebuilt, true);
  });

  it("a floor kept by version is migrated to a counter once, and only upwards", () => {
    const d = device();
    const jobs = new JobStore(d.store, d.dir, d.log);
    assert.equal(jobs.raiseCounter("firmware", 1), false, "nothing installed: nothing to migrate");
    install(jobs, "job-120", "1.2.0");
    assert.deepEqual(jobs.installed().components.firmware, { version: "1.2.0", floor: "1.2.0" });
    assert.equal(jobs.raiseCounter("firmware", 2), true);
    assert.deepEqual(jobs.installed().components.firmware, { version: "1.2.0", floor: "1.2.0", counter: 2 });
    assert.equal(jobs.raiseCounter("firmware", 1), false, "never lowered");
    assert.equal(new JobStore(d.open(), d.dir, d.log).installed().components.firmware?.counter, 2);
  });

  it("what is not protected: a copy of the whole store put back lowers the floor (no monotonic counter)", () => {
    const d = device();
    const jobs = new JobStore(d.store, d.dir, d.log);
    install(jobs, "job-100", "1.0.0");
    const snapshot = join(tempDir("bulwark-snap-"), "state");
    cpSync(join(storePaths(d.dir).store, "state"), snapshot, { recursive: true });
    install(jobs, "job-120", "1.2.0");
    assert.equal(jobs.installed().components.firmware?.floor, "1.2.0");
    rmSync(join(storePaths(d.dir).store, "state"), { recursive: true });
    cpSync(snapshot, join(storePaths(d.dir).store, "state"), { recursive: true });
    assert.equal(jobs.installed().components.firmware?.floor, "1.0.0", "documented in docs/updates.md");
    assert.equal(d.events.length, 0);
  });

  it("a tampered job record: the job is not run again, and is reported failed when the server announces it", () => {
    const d = device();
    const reports: { jobId: string; report: JobStatusReport }[] = [];
    const agent = new UpdateAgent({
      stateDir: d.dir,
      store: d.store,
      serverUrl: "https://127.0.0.1:9",
      tls: () => ({ ca: "", cert: "", key: "" }),
      report: (jobId, report) => reports.push({ jobId, report }),
      log: d.log,
    });
    const jobs = new JobStore(d.store, d.dir, d.log);
    jobs.put(succeeded("job-done", "1.0.0", "security"));
    jobs.put(succeeded("job-tampered", "1.1.0", "security"));
    // Positive control: an ended job the server still shows open is reported ended again.
    agent.onNotify(note("job-done"));
    assert.deepEqual(reports.shift(), { jobId: "job-done", report: { state: "succeeded" } });

    tamper(d.dir, jobRecord("job-tampered"));
    agent.onNotify(note("job-tampered", { version: "1.1.0" }));
    assert.deepEqual(reports, [
      {
        jobId: "job-tampered",
        report: { state: "failed", reason: "the device's record of this job failed its integrity check" },
      },
    ]);
    assert.equal(d.events.length, 1);
    assert.equal(jobs.get("job-tampered")?.state, "failed", "rewritten as ended: never installed twice");
  });

  it("its metadata advertises the delta formats it applies, in a form the server keeps", () => {
    const d = device();
    const agent = new UpdateAgent({
      stateDir: d.dir,
      store: d.store,
      serverUrl: "https://127.0.0.1:9",
      tls: () => ({ ca: "", cert: "", key: "" }),
      report: () => {},
      log: d.log,
    });
    const metadata = agent.metadata();
    assert.deepEqual(metadata.deltaFormats, ["zstd-dict", "zstd-seg"]);
    assert.deepEqual(metadata.deltaFormats, [...APPLICABLE_DELTA_FORMATS]);
    // Every format the SDK parses is one the agent applies (and so advertises).
    assert.deepEqual(
      [...DELTA_FORMATS].filter((f) => !APPLICABLE_DELTA_FORMATS.includes(f)),
      [],
    );
    const kept = sanitiseMetadata(metadata);
    assert.deepEqual(kept.dropped, []);
    assert.deepEqual(kept.metadata.deltaFormats, ["zstd-dict", "zstd-seg"]);
  });

  it("a cancel stops a job not yet installing and is acknowledged, also when it comes again", () => {
    const d = device();
    const reports: { jobId: string; report: JobStatusReport }[] = [];
    const agent = new UpdateAgent({
      stateDir: d.dir,
      store: d.store,
      serverUrl: "https://127.0.0.1:9",
      tls: () => ({ ca: "", cert: "", key: "" }),
      report: (jobId, report) => reports.push({ jobId, report }),
      log: d.log,
    });
    const jobs = new JobStore(d.store, d.dir, d.log);
    jobs.put({ note: note("job-waiting"), firstSeenAt: 1, state: "deferred" });
    jobs.put({ note: note("job-installing"), firstSeenAt: 1, state: "installing" });
    agent.onNotify(note("job-waiting", { state: "canceled" }));
    agent.onNotify(note("job-installing", { state: "canceled" }));
    // Sent again on the next subscribe (the acknowledgement was lost): acknowledged again.
    agent.onNotify(note("job-waiting", { state: "canceled" }));
    assert.deepEqual(reports, [
      { jobId: "job-waiting", report: { state: "canceled" } },
      { jobId: "job-installing", report: { state: "canceled" } },
      { jobId: "job-waiting", report: { state: "canceled" } },
    ]);
    assert.equal(jobs.get("job-waiting")?.state, "canceled");
    assert.equal(jobs.get("job-installing")?.state, "installing", "an install under way finishes");
  });

  it("tampered TUF metadata is discarded for that product only: the client starts again from root v1", async () => {
    const d = device();
    const a = "11111111-2222-4333-8444-555555555555";
    const b = "Product B with spaces";
    const storeA = tufMetadataStore(d.store, a, d.log);
    const storeB = tufMetadataStore(d.store, b, d.log);
    await storeA.write("root.json", Buffer.from('{"signed":"a-root"}'));
    await storeA.write("timestamp.json", Buffer.from('{"signed":"a-ts"}'));
    await storeB.write("root.json", Buffer.from('{"signed":"b-root"}'));
    await storeB.write("Delegated Role.json", Buffer.from('{"signed":"b-role"}'));
    assert.equal(
      Buffer.from((await tufMetadataStore(d.store, b, d.log).read("Delegated Role.json"))!).toString(),
      '{"signed":"b-role"}',
    );
    tamper(d.dir, tufRecord(a, "timestamp.json"));
    const again = tufMetadataStore(d.store, a, d.log);
    assert.equal(await again.read("root.json"), undefined);
    assert.equal(await again.read("timestamp.json"), undefined);
    assert.equal(d.events.length, 1);
    assert.match(
      d.lines.find((l) => l.level === "error")!.msg,
      /trusted TUF metadata failed its integrity check/,
    );
    const otherProduct = tufMetadataStore(d.store, b, d.log);
    assert.equal(Buffer.from((await otherProduct.read("root.json"))!).toString(), '{"signed":"b-root"}');
  });
});
