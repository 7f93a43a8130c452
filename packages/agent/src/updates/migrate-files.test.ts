import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { JobNotify } from "@bulwark/sdk/wire/jobs";
import { tempDir } from "../../../../test/helpers.ts";
import { openAgentStore, storePaths } from "../device-store.ts";
import { createLog } from "../log.ts";
import { openMigratedStore } from "../migrate.ts";
import { readConsent } from "./consent.ts";
import { JobStore, type LocalJob } from "./job-store.ts";
import { legacyUpdatePaths, migrateUpdateFiles } from "./migrate-files.ts";
import { tufMetadataStore } from "./tuf-store.ts";

const silent = createLog("error", () => {});
const PRODUCT = "0b6f1c9e-3d1a-4c2e-9f4b-2a7d8e6c5b41";

const job = (jobId: string, version: string, kind: "security" | "feature", state: LocalJob["state"]) => ({
  note: {
    type: "update",
    jobId,
    deploymentId: "dep-1",
    productId: PRODUCT,
    state: "notified",
    targets: [{ path: `firmware/${version}/fw.img`, artifact: "binary" }],
    component: "firmware",
    version,
    kind,
    mandatory: kind === "security",
    maxDeferralSeconds: 604800,
    window: null,
    network: { metered: "allow" },
    rollback: false,
    issuedAt: 1_700_000_000_000,
  } satisfies JobNotify,
  firstSeenAt: 1_700_000_000_000 + Number(version.replaceAll(".", "")),
  state,
});

/**
 * A state directory as the agent before this change wrote it (`job-store.ts`, `consent.ts` and
 * `directoryStore` at commit 6132e40): JSON files under updates/, a TUF file per metadata name
 * (encodeURIComponent), plus the downloads and slots that stay files.
 */
function legacyDir(installed = '{"components":{"firmware":{"version":"1.3.0","floor":"1.2.0"}}}'): string {
  const dir = join(tempDir("bulwark-update-migrate-"), "state");
  openAgentStore(dir, { tpm: null }); // an enrolled agent has its store already
  const updates = join(dir, "updates");
  for (const sub of ["jobs", "downloads", "slots", `tuf/${PRODUCT}`])
    mkdirSync(join(updates, sub), { recursive: true });
  writeFileSync(join(updates, "consent.json"), '{"automatic":false,"refused":["job-x"],"approved":[]}');
  writeFileSync(join(updates, "installed.json"), installed);
  writeFileSync(
    join(updates, "jobs", "job-120.json"),
    JSON.stringify(job("job-120", "1.2.0", "security", "succeeded")),
  );
  writeFileSync(
    join(updates, "jobs", "job-130.json"),
    JSON.stringify(job("job-130", "1.3.0", "feature", "succeeded")),
  );
  writeFileSync(
    join(updates, "jobs", "job-140.json"),
    JSON.stringify(job("job-140", "1.4.0", "feature", "deferred")),
  );
  writeFileSync(join(updates, "tuf", PRODUCT, "root.json"), '{"signed":{"_type":"root","version":3}}');
  writeFileSync(join(updates, "tuf", PRODUCT, "timestamp.json"), '{"signed":{"_type":"timestamp"}}');
  writeFileSync(join(updates, "tuf", PRODUCT, encodeURIComponent("Role A.json")), '{"signed":"role a"}');
  writeFileSync(join(updates, "tuf", PRODUCT, "snapshot.json.tmp"), "half a write");
  writeFileSync(join(updates, "tuf", "stray-file"), "not a product");
  writeFileSync(join(updates, "jobs", "job-150.json.tmp-4242"), "a writer's leftover");
  writeFileSync(join(updates, "downloads", "abc.fw.img.part"), "partial download");
  writeFileSync(join(updates, "slots", "slots.json"), '{"active":"a"}');
  return dir;
}

/** Everything the update state says, read back through the agent's own code. */
async function stateOf(dir: string) {
  const store = openAgentStore(dir, { tpm: null });
  const jobs = new JobStore(store, dir, silent);
  const tuf = tufMetadataStore(store, PRODUCT, silent);
  const text = async (name: string) => {
    const bytes = await tuf.read(name);
    return bytes && Buffer.from(bytes).toString();
  };
  return {
    consent: readConsent(store, silent),
    installed: jobs.installed(),
    jobs: jobs
      .all()
      .map((j) => [j.note.jobId, j.state])
      .sort(),
    tuf: [await text("root.json"), await text("timestamp.json"), await text("Role A.json")],
  };
}

const EXPECTED = {
  consent: { automatic: false, refused: ["job-x"], approved: [] },
  installed: { components: { firmware: { version: "1.3.0", floor: "1.2.0" } } },
  jobs: [
    ["job-120", "succeeded"],
    ["job-130", "succeeded"],
    ["job-140", "deferred"],
  ],
  tuf: ['{"signed":{"_type":"root","version":3}}', '{"signed":{"_type":"timestamp"}}', '{"signed":"role a"}'],
};

function assertFilesGone(dir: string): void {
  const paths = legacyUpdatePaths(dir);
  for (const gone of Object.values(paths)) assert.equal(existsSync(gone), false, gone);
  assert.deepEqual(
    readdirSync(join(dir, "updates")).sort(),
    ["downloads", "slots"],
    "downloads and slots stay",
  );
  assert.deepEqual(readdirSync(join(dir, "updates", "downloads")), ["abc.fw.img.part"]);
}

describe("agent: migrating the update state from plain JSON files into the encrypted store", () => {
  it("moves consent, jobs, installed versions with their floor and the TUF metadata; the old files go", async () => {
    const dir = legacyDir();
    const lines: { msg: string; jobs?: number }[] = [];
    openMigratedStore(
      dir,
      createLog("info", (l) => lines.push(JSON.parse(l))),
      { tpm: null },
    );
    assert.deepEqual(await stateOf(dir), EXPECTED);
    assertFilesGone(dir);
    assert.deepEqual(
      lines.map((l) => [l.msg, l.jobs]),
      [["update state migrated to the encrypted store", 3]],
    );
    const again = migrateUpdateFiles(dir, openAgentStore(dir, { tpm: null }), silent);
    assert.deepEqual(
      again,
      { migrated: false, jobs: 0, tufFiles: 0, unreadable: 0 },
      "nothing left to migrate",
    );
    assert.deepEqual(await stateOf(dir), EXPECTED);
  });

  it("interrupted at every store write step: the files stay, and the next start ends with the same state", async () => {
    let completedAt: number | undefined;
    for (let stopAt = 0; completedAt === undefined; stopAt++) {
      const dir = legacyDir();
      let step = 0;
      const store = openAgentStore(dir, {
        tpm: null,
        onWriteStep: () => {
          if (step++ === stopAt) throw new Error(`stopped at write step ${stopAt}`);
        },
      });
      try {
        migrateUpdateFiles(dir, store, silent);
        completedAt = stopAt;
      } catch (error) {
        assert.equal((error as Error).message, `stopped at write step ${stopAt}`);
        assert.ok(
          existsSync(legacyUpdatePaths(dir).installed),
          "no file deleted before every record is written",
        );
        assert.ok(existsSync(join(legacyUpdatePaths(dir).jobs, "job-140.json")));
      }
      openMigratedStore(dir, silent, { tpm: null }); // the next start
      assert.deepEqual(await stateOf(dir), EXPECTED, `stopped at step ${stopAt}`);
      assertFilesGone(dir);
    }
    // 1 consent + 3 jobs + 2 (floor, installed) + 3 TUF records, 7 steps each.
    assert.equal(completedAt, 9 * 7);
  });

  it("an old agent that never had a job leaves an empty jobs/ directory: it goes too", () => {
    const dir = join(tempDir("bulwark-update-migrate-"), "state");
    mkdirSync(join(dir, "updates", "jobs"), { recursive: true });
    mkdirSync(join(dir, "updates", "downloads"));
    const result = migrateUpdateFiles(dir, openAgentStore(dir, { tpm: null }), silent);
    assert.deepEqual(result, { migrated: true, jobs: 0, tufFiles: 0, unreadable: 0 });
    assert.deepEqual(readdirSync(join(dir, "updates")), ["downloads"]);
  });

  it("an unreadable installed.json: rebuilt from the succeeded jobs, the floor marked rebuilt (rollback jobs refused)", async () => {
    const dir = legacyDir('{"components":{"firmware":{"vers');
    const lines: { level: string; msg: string; file?: string }[] = [];
    openMigratedStore(
      dir,
      createLog("info", (l) => lines.push(JSON.parse(l))),
      { tpm: null },
    );
    const { installed } = await stateOf(dir);
    assert.deepEqual(installed, {
      components: { firmware: { version: "1.3.0", floor: "1.2.0" } },
      floorRebuilt: true,
    });
    assert.deepEqual(
      lines.filter((l) => l.level === "warn").map((l) => [l.msg, l.file]),
      [["update state file unreadable: not migrated", legacyUpdatePaths(dir).installed]],
    );
    assertFilesGone(dir);
    assert.ok(existsSync(join(storePaths(dir).store, "state", "updates.floor.rec")));
  });
});
