import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { JobNotify } from "@bulwark/sdk/wire/jobs";
import { runAgentMain } from "../../../../test/agent-cli.ts";
import { tempDir } from "../../../../test/helpers.ts";
import { openAgentStore, storePaths } from "../device-store.ts";
import { createLog } from "../log.ts";
import { peekEvents } from "../security-events.ts";
import { statePaths } from "../state.ts";
import { JobStore } from "./job-store.ts";
import { CONSENT_RECORD } from "./update-records.ts";

process.env.BULWARK_AGENT_TPM = "off"; // the file KEK, whatever this machine has

const agent = runAgentMain;

/** A state directory as enrolment leaves it: agent.json and the store. */
function enrolled(): string {
  const dir = join(tempDir("bulwark-updates-cli-"), "state");
  openAgentStore(dir, { tpm: null });
  writeFileSync(
    statePaths(dir).state,
    JSON.stringify({
      serverUrl: "https://127.0.0.1:9",
      mqttUrl: "mqtts://127.0.0.1:9",
      deviceId: "dev-1",
      rootFingerprint: "00",
      enrolledAt: "2026-01-01T00:00:00.000Z",
    }),
  );
  return dir;
}

const note = (jobId: string, version: string): JobNotify => ({
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
  maxDeferralSeconds: 3600,
  window: null,
  network: { metered: "allow" },
  rollback: false,
  issuedAt: 1,
});

const updates = (dir: string, ...args: string[]) => agent(["updates", ...args, "--state-dir", dir]);
const status = async (dir: string) => {
  const r = await updates(dir, "status");
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { consent: Record<string, unknown>; installed: unknown; jobs: unknown[] };
};

describe("bulwark-agent updates: the device user's update settings", () => {
  it("bad input is one line on stderr with exit 2, and touches nothing", async () => {
    const dir = join(tempDir("bulwark-updates-cli-"), "state");
    const cases: [string[], RegExp][] = [
      [[], /^bulwark-agent updates: a subcommand is needed: bulwark-agent updates status \| jobs/],
      [["frob"], /^bulwark-agent updates: unknown subcommand "frob": /],
      [["opt-out", "now"], /^bulwark-agent updates: opt-out takes no argument, got 1$/],
      [["status", "x", "y"], /^bulwark-agent updates: status takes no argument, got 2$/],
      [["defer"], /^bulwark-agent updates: defer takes one argument, got 0 \(HOURS or off\)$/],
      [
        ["defer", "0"],
        /defer needs a number of hours between 0 and 2160 \(e\.g\. 24 or 1\.5\), or off; got "0"$/,
      ],
      [["defer", "1e2"], /defer needs a number of hours .* got "1e2"$/],
      [["defer", "2161"], /defer needs a number of hours .* got "2161"$/],
      [["defer", "12h"], /defer needs a number of hours .* got "12h"$/],
      [["defer", "Infinity"], /defer needs a number of hours .* got "Infinity"$/],
      [["defer", "-1"], /^bulwark-agent updates: unknown option -1$/],
      [["refuse"], /^bulwark-agent updates: refuse takes one argument, got 0 \(JOB_ID\)$/],
      [["refuse", "bad id!"], /refuse needs a job id of 1-64 letters, digits, "_" or "-"; got "bad id!"$/],
      [["approve", "a", "b"], /^bulwark-agent updates: approve takes one argument, got 2 \(JOB_ID\)$/],
    ];
    for (const [args, pattern] of cases) {
      const r = await updates(dir, ...args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.equal(r.stdout, "");
      assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
      assert.match(r.stderr.trimEnd(), pattern, args.join(" "));
    }
    assert.equal(existsSync(dir), false, "the state directory was not created");
    const positive = await updates(enrolled(), "opt-out");
    assert.equal(positive.code, 0, "positive control: the same command line with valid input works");
  });

  it("a device that is not enrolled: one line, exit 2, no store made", async () => {
    const dir = join(tempDir("bulwark-updates-cli-"), "state");
    mkdirSync(dir);
    const r = await updates(dir, "status");
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /^bulwark-agent updates: not enrolled: no .*agent\.json \(run "bulwark-agent enroll" first\)\n$/,
    );
    assert.equal(existsSync(storePaths(dir).store), false);
  });

  it("opt-out, opt-in, defer, defer off, refuse and approve change the consent the agent reads", async () => {
    const dir = enrolled();
    assert.deepEqual((await status(dir)).consent, { automatic: true, refused: [], approved: [] });
    const out = await updates(dir, "opt-out");
    assert.equal(
      out.stdout,
      "automatic install off: optional updates wait for approval; security updates install at their deferral limit\n",
    );
    assert.equal((await status(dir)).consent.automatic, false);
    assert.equal((await updates(dir, "opt-in")).stdout, "automatic install on\n");
    assert.equal((await status(dir)).consent.automatic, true);

    const before = Date.now();
    const deferred = await updates(dir, "defer", "1.5");
    assert.match(
      deferred.stdout,
      /^updates deferred by 1\.5 h, until \d{4}-\d\d-\d\dT.*Z \(security updates/,
    );
    const until = (await status(dir)).consent.deferUntil as number;
    assert.ok(until >= before + 1.5 * 3600_000 && until <= Date.now() + 1.5 * 3600_000, String(until));
    assert.equal((await updates(dir, "defer", "off")).stdout, "deferral cleared\n");
    assert.equal((await status(dir)).consent.deferUntil, undefined);

    await updates(dir, "refuse", "job_A-1");
    await updates(dir, "approve", "job-2");
    await updates(dir, "refuse", "job_A-1");
    assert.deepEqual((await status(dir)).consent, {
      automatic: true,
      refused: ["job_A-1"],
      approved: ["job-2"],
    });
    assert.equal(existsSync(join(dir, "updates", "consent.json")), false, "no plain file");
  });

  it("jobs and installed show what the store holds", async () => {
    const dir = enrolled();
    assert.equal((await updates(dir, "jobs")).stdout, "no update jobs\n");
    assert.equal((await updates(dir, "installed")).stdout, "nothing installed through updates yet\n");
    const jobs = new JobStore(
      openAgentStore(dir, { tpm: null }),
      dir,
      createLog("error", () => {}),
    );
    jobs.put({ note: note("job-1", "1.0.0"), firstSeenAt: 1, state: "succeeded" });
    jobs.put({
      note: note("job-2", "1.1.0"),
      firstSeenAt: 2,
      state: "deferred",
      reason: "deferred by the user",
    });
    jobs.setInstalled("firmware", "1.0.0", true);
    assert.equal(
      (await updates(dir, "jobs")).stdout,
      "job-1\tfirmware\t1.0.0\tsecurity\tsucceeded\njob-2\tfirmware\t1.1.0\tsecurity\tdeferred\tdeferred by the user\n",
    );
    assert.equal((await updates(dir, "installed")).stdout, "firmware\t1.0.0\tanti-rollback floor 1.0.0\n");
    assert.deepEqual((await status(dir)).installed, {
      components: { firmware: { version: "1.0.0", floor: "1.0.0" } },
    });
  });

  it("a tampered consent record: the default shown, an error line on stderr, a security event queued for the agent", async () => {
    const dir = enrolled();
    await updates(dir, "opt-out");
    const file = join(storePaths(dir).store, "state", `${CONSENT_RECORD}.rec`);
    const bytes = readFileSync(file);
    bytes[bytes.length - 1]! ^= 0x80;
    writeFileSync(file, bytes);
    const r = await updates(dir, "status");
    assert.equal(r.code, 0);
    assert.equal(JSON.parse(r.stdout).consent.automatic, true);
    const errors = r.stderr
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as { level: string; msg: string });
    assert.deepEqual(
      errors.map((e) => e.level),
      ["error"],
    );
    assert.match(errors[0]!.msg, /consent record failed its integrity check: reset to the defaults/);
    const queued = peekEvents(openAgentStore(dir, { tpm: null }));
    assert.deepEqual(
      queued.map((q) => [q.event.kind, q.event.detail]),
      [["integrity-failure", `encrypted store: record state/${CONSENT_RECORD}: authentication-failed`]],
    );
  });

  it("an agent upgraded from the plain files: the first command migrates them", async () => {
    const dir = enrolled();
    mkdirSync(join(dir, "updates"));
    writeFileSync(
      join(dir, "updates", "consent.json"),
      '{"automatic":false,"refused":[],"approved":["j-9"]}',
    );
    const r = await updates(dir, "status");
    assert.deepEqual(JSON.parse(r.stdout).consent, { automatic: false, refused: [], approved: ["j-9"] });
    assert.match(r.stderr, /"msg":"update state migrated to the encrypted store"/);
    assert.equal(existsSync(join(dir, "updates", "consent.json")), false);
  });
});
