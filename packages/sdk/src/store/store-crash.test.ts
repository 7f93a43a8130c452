import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { CREATE_STEPS, WRITE_STEPS } from "./atomic-write.ts";
import { fileKek } from "./kek.ts";
import { openStore } from "./store.ts";
import type { StoreTamperEvent } from "./tamper.ts";

const WRITER = fileURLToPath(new URL("../../test/store-crash-writer.ts", import.meta.url));
const root = mkdtempSync(join(tmpdir(), "bw-store-crash-"));
after(() => rmSync(root, { recursive: true, force: true }));

/** Runs the writer; with `killAt`, it must die by SIGKILL at that step. Returns the steps it counted. */
function write(dir: string, value: string, killAt?: number): number {
  const args = [WRITER, dir, join(dir, "..", `${dir.split("/").pop()}.kek`), value];
  if (killAt === undefined) return Number(execFileSync(process.execPath, args, { encoding: "utf8" }).trim());
  const run = spawnSync(process.execPath, [...args, String(killAt)], { encoding: "utf8" });
  assert.equal(run.signal, "SIGKILL", `the writer was to be killed at step ${killAt}: ${run.stderr}`);
  return killAt;
}

function readBack(dir: string): {
  value: string | undefined;
  events: StoreTamperEvent[];
  leftovers: string[];
} {
  const events: StoreTamperEvent[] = [];
  const kek = fileKek(join(dir, "..", `${dir.split("/").pop()}.kek`));
  const store = openStore({ dir, kek, onSecurityEvent: (e) => events.push(e) });
  const leftovers = [dir, join(dir, "state")].flatMap((d) =>
    readdirSync(d).filter((f) => f.includes(".tmp-")),
  );
  return { value: store.get("state", "config")?.toString(), events, leftovers };
}

describe("store: a writer killed (SIGKILL) at every step of the write protocol", () => {
  it("an update leaves the old value or the new one, never a damaged store", () => {
    const probe = join(root, "probe");
    write(probe, "old");
    const steps = write(probe, "new");
    assert.equal(steps, WRITE_STEPS.length, "one atomic write for an update");
    const seen = new Set<string>();
    for (let killAt = 0; killAt < steps; killAt++) {
      const dir = join(root, `update-${killAt}`);
      write(dir, "old");
      write(dir, "new", killAt);
      const { value, events, leftovers } = readBack(dir);
      assert.deepEqual(events, [], `step ${WRITE_STEPS[killAt]}: no tamper report`);
      assert.ok(value === "old" || value === "new", `step ${WRITE_STEPS[killAt]}: read ${value}`);
      assert.deepEqual(leftovers, [], "the crashed writer's temporary file is swept on open");
      seen.add(value);
    }
    // Positive control: killed before the rename the old value survives, after it the new one.
    assert.deepEqual([...seen].sort(), ["new", "old"]);
  });

  it("a first write (keyring created, then the record) leaves an empty store or the new value", () => {
    const steps = write(join(root, "probe-first"), "first");
    assert.equal(steps, CREATE_STEPS.length + WRITE_STEPS.length, "keyring creation, then the record write");
    const seen = new Set<string | undefined>();
    for (let killAt = 0; killAt < steps; killAt++) {
      const dir = join(root, `first-${killAt}`);
      write(dir, "first", killAt);
      const { value, events, leftovers } = readBack(dir);
      assert.deepEqual(events, [], `step ${killAt}: no tamper report`);
      assert.deepEqual(leftovers, [], `step ${killAt}: the temporary file is swept on open`);
      assert.ok(value === undefined || value === "first", `step ${killAt}: read ${value}`);
      seen.add(value);
    }
    assert.deepEqual([...seen].map(String).sort(), ["first", "undefined"]);
  });
});
