import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fixture } from "../../../test/tuf-fixtures.ts";
import { isTufError } from "../errors.ts";
import { directoryStore, memoryStore } from "./store.ts";

describe("TUF client workflow (TUF spec §5) against a repository our writer produced", () => {
  it("refreshes, finds a target with Bulwark's custom fields and downloads it verified (§5.7)", async () => {
    const f = await fixture();
    const updater = f.updater();
    await updater.refresh();
    const info = await updater.getTargetInfo("firmware/fw-1.0.0.bin");
    assert.ok(info);
    assert.equal(info.role, "targets");
    assert.deepEqual(info.target.custom, { version: "1.0.0", kind: "feature" });
    assert.equal((await updater.downloadTarget(info)).toString(), "firmware 1.0.0");
    assert.equal(await updater.getTargetInfo("firmware/absent.bin"), undefined);
  });

  it("persists what it trusts and reuses it on the next cycle, then follows a new release", async () => {
    const f = await fixture();
    const store = memoryStore();
    await f.updater({ store }).refresh();
    assert.deepEqual([...store.files.keys()].sort(), [
      "root.json",
      "snapshot.json",
      "targets.json",
      "timestamp.json",
    ]);
    f.addTarget("firmware/fw-1.1.0.bin", Buffer.from("firmware 1.1.0"), {
      version: "1.1.0",
      kind: "security",
      advisory: "fixes CVE-2026-0001",
    });
    await f.repo.publish(f.signers);
    f.serve();
    const second = f.updater({ store, bootstrapRoot: undefined });
    await second.refresh();
    assert.equal(second.trusted.timestamp?.version, 2);
    const info = await second.getTargetInfo("firmware/fw-1.1.0.bin");
    assert.equal(info?.target.custom?.kind, "security");
  });

  it("keeps its trusted metadata in a directory store across updaters (owner-only files)", async () => {
    const f = await fixture();
    const dir = await mkdtemp(join(tmpdir(), "bulwark-tuf-store-"));
    try {
      const store = directoryStore(join(dir, "tuf"));
      await f.updater({ store }).refresh();
      assert.deepEqual((await readdir(join(dir, "tuf"))).sort(), [
        "root.json",
        "snapshot.json",
        "targets.json",
        "timestamp.json",
      ]);
      assert.equal((await stat(join(dir, "tuf", "root.json"))).mode & 0o777, 0o600);
      f.clock.now = new Date(f.clock.now.getTime() + 3_600_000);
      await f.repo.refreshTimestamp(f.signers);
      f.serve();
      const next = f.updater({ store, bootstrapRoot: undefined });
      await next.refresh();
      assert.equal(next.trusted.timestamp?.version, 2);
      await store.remove("timestamp.json");
      assert.equal(await store.read("timestamp.json"), undefined);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("works without consistent snapshots too (§6.2)", async () => {
    const f = await fixture({ consistent: false });
    assert.ok(f.served.has("snapshot.json") && f.served.has("targets.json"));
    const updater = f.updater();
    await updater.refresh();
    const info = await updater.getTargetInfo("firmware/fw-1.0.0.bin");
    assert.ok(info);
    assert.equal((await updater.downloadTarget(info)).toString(), "firmware 1.0.0");
    assert.ok(
      isTufError(
        await updater.downloadTarget({ ...info, path: "firmware/none" }).catch((e) => e),
        "TUF_FETCH_FAILED",
      ),
    );
  });
});
