import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { after, describe, it } from "node:test";
import { constants, createZstdCompress } from "node:zlib";
import { DELTA_FORMAT, type DeltaCustom, zstdDeltaParams } from "@bulwark/sdk/wire/delta";
import type { NetworkPolicy } from "@bulwark/sdk/wire/jobs";
import { nextRelease, realBinary } from "../../../../test/delta-images.ts";
import { applyDelta, DeltaRefused } from "./delta-apply.ts";
import { checkDelta, type PlanTarget, planTransfer } from "./delta-plan.ts";

const hex = (algorithm: string, b: Buffer) => createHash(algorithm).update(b).digest("hex");
const hashes = (b: Buffer) => ({ sha256: hex("sha256", b), sha512: hex("sha512", b) });

/** A delta as the server makes it (updates/delta.ts): streamed zstd with the base as dictionary. */
async function makeDelta(base: Buffer, image: Buffer, windowLog?: number): Promise<Buffer> {
  const params = zstdDeltaParams(base.length, image.length);
  return buffer(
    Readable.from([image]).pipe(
      createZstdCompress({
        dictionary: base,
        params: {
          [constants.ZSTD_c_compressionLevel]: 9,
          [constants.ZSTD_c_windowLog]: windowLog ?? params.windowLog,
          [constants.ZSTD_c_hashLog]: params.hashLog,
          [constants.ZSTD_c_chainLog]: params.chainLog,
        },
      }),
    ),
  );
}

describe("delta apply on the device: rebuilt streaming, checked against the full target, nothing left on refusal", () => {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-delta-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const v1 = realBinary(1024 * 1024);
  const { image: v2 } = nextRelease(v1);
  const base = join(dir, "slot-a.img");
  writeFileSync(base, v1);
  let n = 0;
  async function attempt(
    delta: Buffer,
    full: Buffer,
    extra: { maxWindowLog?: number; baseFile?: string } = {},
  ) {
    const deltaFile = join(dir, `d${++n}.zst`);
    const dest = join(dir, `out${n}.img`);
    writeFileSync(deltaFile, delta);
    const run = applyDelta({
      delta: deltaFile,
      base: extra.baseFile ?? base,
      dest,
      length: full.length,
      hashes: hashes(full),
      ...(extra.maxWindowLog ? { maxWindowLog: extra.maxWindowLog } : {}),
    });
    return { run, dest };
  }

  it("rebuilds the new image from the current one and a small delta", async () => {
    const delta = await makeDelta(v1, v2);
    assert.ok(delta.length < v2.length / 10, `delta ${delta.length} of ${v2.length}`);
    const { run, dest } = await attempt(delta, v2);
    await run;
    assert.ok(readFileSync(dest).equals(v2));
    assert.equal(existsSync(`${dest}.part`), false);
  });

  it("refuses a delta whose result is not the signed full target (a different image), nothing written", async () => {
    const other = Buffer.from(v2);
    other[12345] = other[12345]! ^ 0xff;
    const { run, dest } = await attempt(await makeDelta(v1, other), v2);
    await assert.rejects(
      run,
      (e: Error) => e instanceof DeltaRefused && /sha256 does not match/.test(e.message),
    );
    assert.equal(existsSync(dest), false);
    assert.equal(existsSync(`${dest}.part`), false);
  });

  it("refuses a delta made for another base: the rebuilt image does not match, nothing written", async () => {
    const otherBase = join(dir, "other-base.img");
    const changed = Buffer.from(v1);
    changed.fill(0x5a, 100_000, 400_000);
    writeFileSync(otherBase, changed);
    const { run, dest } = await attempt(await makeDelta(v1, v2), v2, { baseFile: otherBase });
    await assert.rejects(
      run,
      (e: Error) => e instanceof DeltaRefused && /does not match|does not decode/.test(e.message),
    );
    assert.equal(existsSync(dest), false);
  });

  it("stops at the full target's signed length: a delta that rebuilds more is refused early", async () => {
    const longer = Buffer.concat([v2, Buffer.alloc(4 * 1024 * 1024)]);
    const { run, dest } = await attempt(await makeDelta(v1, longer), v2);
    await assert.rejects(
      run,
      (e: Error) => e instanceof DeltaRefused && /more than the full target's signed/.test(e.message),
    );
    assert.equal(existsSync(dest), false);
    assert.equal(existsSync(`${dest}.part`), false);
  });

  it("refuses a frame that needs a larger window than the device allows", async () => {
    const { run, dest } = await attempt(await makeDelta(v1, v2, 23), v2, { maxWindowLog: 21 });
    await assert.rejects(run, (e: Error) => e instanceof DeltaRefused && /does not decode/.test(e.message));
    assert.equal(existsSync(dest), false);
  });
});

describe("delta policy with the metered-network policy (which file each target comes from)", () => {
  const withDelta: PlanTarget = { path: "firmware/2.0.0/fw.img", fullLength: 10_000, delta: { length: 800 } };
  const without: PlanTarget = {
    path: "firmware/2.0.0/fw.img",
    fullLength: 10_000,
    noDelta: "no signed delta",
  };
  const allow: NetworkPolicy = { metered: "allow" };
  const cap = (n: number): NetworkPolicy => ({ metered: "cap", maxMeteredBytes: n });

  const cases: [string, Parameters<typeof planTransfer>, string][] = [
    ["off, delta available: full", ["off", [withDelta], allow, false], "go full 10000"],
    ["prefer, delta available: delta", ["prefer", [withDelta], allow, false], "go delta 800"],
    ["prefer, no delta: full", ["prefer", [without], allow, false], "go full 10000"],
    ["require, delta available: delta", ["require", [withDelta], allow, false], "go delta 800"],
    ["require, no delta: the job ends", ["require", [without], allow, false], "end"],
    ["metered cap 1000, delta 800: the delta goes", ["prefer", [withDelta], cap(1000), true], "go delta 800"],
    ["metered cap 1000, off: the full image waits", ["off", [withDelta], cap(1000), true], "hold"],
    [
      "metered cap 1000, no delta: waits, no fallback above the cap",
      ["prefer", [without], cap(1000), true],
      "hold",
    ],
    ["metered cap 500, delta 800: waits", ["require", [withDelta], cap(500), true], "hold"],
    ["metered deny: waits whatever the delta", ["prefer", [withDelta], { metered: "deny" }, true], "hold"],
    [
      "unmetered with a cap set: the full image goes",
      ["prefer", [without], cap(1000), false],
      "go full 10000",
    ],
    ["two targets, one delta: mixed", ["prefer", [withDelta, without], allow, false], "go delta,full 10800"],
  ];
  for (const [name, args, expected] of cases)
    it(name, () => {
      const plan = planTransfer(...args);
      const got = plan.kind === "go" ? `go ${plan.use.join(",")} ${plan.bytes}` : plan.kind;
      assert.equal(got, expected);
      if (plan.kind === "end") assert.match(plan.reason, /requires a delta.*no signed delta/);
      if (plan.kind === "hold") assert.match(plan.reason, /metered/);
    });

  it("a delta in a format this agent cannot read: prefer takes the full image, never past a metered cap; require ends", () => {
    // What an agent without the release's delta format sees (`parseDeltaCustom` gives nothing).
    const unread: PlanTarget = {
      path: "firmware/2.0.0/fw.img",
      fullLength: 10_000,
      noDelta: checkDelta(
        undefined,
        800,
        { path: "firmware/2.0.0/fw.img", length: 10_000, sha256: "b".repeat(64) },
        "a".repeat(64),
      ),
    };
    const full = planTransfer("prefer", [unread], allow, true);
    assert.equal(full.kind === "go" && `${full.use.join(",")} ${full.bytes}`, "full 10000");
    assert.match(full.kind === "go" ? full.summary : "", /no delta description this agent knows/);
    const held = planTransfer("prefer", [unread], cap(1000), true);
    assert.equal(held.kind, "hold", "the full image waits for an unmetered network");
    const ended = planTransfer("require", [unread], allow, false);
    assert.equal(ended.kind, "end");
  });

  it("says which path it took", () => {
    const plan = planTransfer("prefer", [without], allow, false);
    assert.equal(plan.kind === "go" && plan.summary, "full: 10000 bytes (no signed delta)");
  });
});

describe("a signed delta target is checked against the device's image and the full target", () => {
  const full = { path: "firmware/2.0.0/fw.img", length: 10_000, sha256: "b".repeat(64) };
  const mine = "a".repeat(64);
  const custom: DeltaCustom = {
    format: DELTA_FORMAT,
    base: { sha256: mine, length: 9_000, version: "1.0.0" },
    target: { path: full.path, length: full.length, sha256: full.sha256 },
    windowLog: 20,
  };
  it("accepts the right one", () => assert.equal(checkDelta(custom, 800, full, mine), undefined));
  it("refuses a delta for another base", () =>
    assert.match(
      checkDelta(custom, 800, full, "c".repeat(64))!,
      /for base aaaa.*this device's image is cccc/,
    ));
  it("refuses one naming another full target", () =>
    assert.match(
      checkDelta({ ...custom, target: { ...custom.target, sha256: "d".repeat(64) } }, 800, full, mine)!,
      /different full target/,
    ));
  it("refuses an oversized delta (not smaller than the full image)", () =>
    assert.match(checkDelta(custom, 10_000, full, mine)!, /not smaller than the full image/));
  it("refuses a window above the device's limit", () =>
    assert.match(checkDelta({ ...custom, windowLog: 30 }, 800, full, mine)!, /2\^30-byte window/));
  it("refuses a target without a delta description", () =>
    assert.match(checkDelta(undefined, 800, full, mine)!, /no delta description this agent knows/));
  it("accepts a segmented delta within the device's limits, refuses one over them", () => {
    const seg: DeltaCustom = {
      ...custom,
      format: "zstd-seg",
      segmentBytes: 8 << 20,
      referenceBytes: 24 << 20,
    };
    assert.equal(checkDelta(seg, 800, full, mine), undefined);
    assert.match(
      checkDelta({ ...seg, segmentBytes: 64 << 20 }, 800, full, mine)!,
      /over this device's limits/,
    );
    assert.match(
      checkDelta({ ...seg, referenceBytes: 1 << 30 }, 800, full, mine)!,
      /over this device's limits/,
    );
  });
});
