import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { SlotInstaller } from "./slots.ts";

const root = mkdtempSync(join(tmpdir(), "bulwark-slots-"));
after(() => rmSync(root, { recursive: true, force: true }));
const CHILD = new URL("./slot-crash-child.ts", import.meta.url).pathname;
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("A/B slots: SIGKILL at every step of an install ends on a valid slot", () => {
  for (const step of [0, 1, 2, 3]) {
    it(`killed after step ${step}: the next start boots a complete image of a known version`, async () => {
      const dir = join(root, `step-${step}`);
      const v1 = randomBytes(64 * 1024);
      const v2 = randomBytes(64 * 1024);
      const first = join(root, `v1-${step}.img`);
      const second = join(root, `v2-${step}.img`);
      writeFileSync(first, v1);
      writeFileSync(second, v2);
      // 1.0.0 installed and committed normally.
      const slots = new SlotInstaller(dir);
      await slots.switchTo(await slots.write(first), "1.0.0", "job-1");
      await slots.commit();
      // 2.0.0 installed by a process that is killed after `step`.
      const child = spawnSync(process.execPath, [CHILD, dir, second, "2.0.0", String(step)]);
      assert.equal(child.signal, "SIGKILL", `the child was killed (${child.stderr})`);
      // The next start: a slot on trial is rolled back (agent start-up, update-agent.ts).
      const restarted = new SlotInstaller(dir);
      const rolledBack = await restarted.rollBack();
      const state = restarted.state();
      assert.equal(state.trial, null);
      const version = state.versions[state.active];
      const image = readFileSync(restarted.imagePath(state.active));
      const expected = step === 3 ? { version: "2.0.0", image: v2 } : { version: "1.0.0", image: v1 };
      assert.equal(version, expected.version);
      assert.equal(
        sha(image),
        sha(expected.image),
        "the active slot holds the complete image of its version",
      );
      assert.equal(rolledBack !== null, step === 2, "only a switched, uncommitted trial is rolled back");
    });
  }
});
