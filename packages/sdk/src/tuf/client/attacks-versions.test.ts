import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Fixture, fixture, forge, served, signRoot } from "../../../test/tuf-fixtures.ts";
import { isTufError, type TufErrorCode } from "../errors.ts";
import type { Snapshot, Targets, Timestamp } from "../metadata.ts";
import { memoryStore } from "./store.ts";

/** Attacks the client must detect (TUF spec §5, "Goals to protect against specific attacks"). */
const code = (expected: TufErrorCode) => (error: unknown) => {
  assert.ok(isTufError(error, expected), `expected ${expected}, got ${String(error)}`);
  return true;
};
const DAY = 86_400_000;

/**
 * Another version of a served file, re-signed with the same length (ECDSA signatures vary by a
 * byte or two), so that only its hashes can tell it from the listed one.
 */
async function forgeSameLength<T extends Snapshot | Targets>(
  f: Fixture,
  name: string,
  signers: Parameters<typeof forge>[2],
) {
  const length = (f.served.get(name) as Uint8Array).length;
  for (let i = 0; i < 100; i++) {
    const bytes = await forge<T>(f, name, signers, (signed) => {
      signed.expires = "2030-01-01T00:00:00Z";
    });
    if (bytes.length === length) return bytes;
  }
  throw new Error("could not forge a file of the same length");
}

/** A client that has trusted the fixture's first publication, and the repository's second one. */
async function afterTwoReleases(): Promise<{
  f: Fixture;
  store: ReturnType<typeof memoryStore>;
  v1: Map<string, Uint8Array>;
}> {
  const f = await fixture();
  const v1 = new Map(f.served);
  f.addTarget("firmware/fw-1.1.0.bin", Buffer.from("firmware 1.1.0"), { version: "1.1.0" });
  await f.repo.publish(f.signers);
  f.serve();
  const store = memoryStore();
  await f.updater({ store }).refresh();
  return { f, store, v1 };
}

describe("rollback attacks (§5.3.5, §5.4.3, §5.5.5)", () => {
  it("refuses an older timestamp than the one it trusts (same snapshot: only §5.4.3.1 can tell)", async () => {
    const f = await fixture();
    await f.repo.refreshTimestamp(f.signers);
    const older = f.repo.files().get("timestamp.json") as Buffer;
    await f.repo.refreshTimestamp(f.signers);
    f.serve();
    const store = memoryStore();
    await f.updater({ store }).refresh();
    f.served.set("timestamp.json", older);
    await assert.rejects(
      f.updater({ store }).refresh(),
      (e) => code("TUF_ROLLBACK")(e) && /older than trusted/.test(String(e)),
    );
  });

  it("refuses a timestamp that points back to an older snapshot (timestamp key stolen; §5.4.3.2)", async () => {
    const f = await fixture();
    await f.repo.publish(f.signers); // snapshot v2 lists the same targets v1 as snapshot v1
    f.serve();
    const store = memoryStore();
    await f.updater({ store }).refresh();
    const bytes = await forge<Timestamp>(f, "timestamp.json", f.rings.timestamp.signers, (t) => {
      t.version += 1;
      t.meta["snapshot.json"] = { version: 1 };
    });
    f.served.set("timestamp.json", bytes);
    await assert.rejects(
      f.updater({ store }).refresh(),
      (e) => code("TUF_ROLLBACK")(e) && /lists snapshot v1/.test(String(e)),
    );
  });

  it("refuses a snapshot that lists an older targets version (snapshot and timestamp keys stolen)", async () => {
    const { f, store } = await afterTwoReleases();
    const snapshot = await forge<Snapshot>(f, "2.snapshot.json", f.rings.snapshot.signers, (s) => {
      s.version = 3;
      s.meta["targets.json"] = { version: 1 };
    });
    f.served.set("3.snapshot.json", snapshot);
    f.served.set(
      "timestamp.json",
      await forge<Timestamp>(f, "timestamp.json", f.rings.timestamp.signers, (t) => {
        t.version += 1;
        t.meta["snapshot.json"] = { version: 3 };
      }),
    );
    await assert.rejects(f.updater({ store }).refresh(), code("TUF_ROLLBACK"));
  });

  it("refuses a root that is not exactly version N+1", async () => {
    const f = await fixture();
    const v3 = await signRoot(f.rootSpec(3, f.rings), f.rings.root.signers);
    f.served.set("2.root.json", Buffer.from(JSON.stringify(v3)));
    await assert.rejects(f.updater().refresh(), code("TUF_ROLLBACK"));
    f.served.set("2.root.json", f.served.get("1.root.json") as Uint8Array);
    await assert.rejects(f.updater().refresh(), code("TUF_ROLLBACK"));
  });
});

describe("freeze attacks: expired metadata (§5.3.10, §5.4.4, §5.5.6, §5.6.5)", () => {
  it("refuses an expired timestamp, and accepts the refreshed one", async () => {
    const f = await fixture();
    f.clock.now = new Date(f.clock.now.getTime() + 2 * DAY);
    await assert.rejects(f.updater().refresh(), code("TUF_EXPIRED"));
    await f.repo.refreshTimestamp(f.signers);
    f.serve();
    await f.updater().refresh();
  });

  it("refuses an expired snapshot behind a fresh timestamp", async () => {
    const f = await fixture();
    f.clock.now = new Date(f.clock.now.getTime() + 8 * DAY);
    await f.repo.refreshTimestamp(f.signers);
    f.serve();
    await assert.rejects(f.updater().refresh(), code("TUF_EXPIRED"));
  });

  it("refuses expired targets behind a fresh snapshot and timestamp", async () => {
    const f = await fixture();
    const store = memoryStore();
    await f.updater({ store }).refresh();
    f.clock.now = new Date(f.clock.now.getTime() + 91 * DAY);
    await f.repo.publish(f.signers); // new snapshot and timestamp; targets unchanged
    f.serve();
    await assert.rejects(f.updater({ store }).refresh(), code("TUF_EXPIRED"));
  });

  it("refuses an expired root once no newer root is found", async () => {
    const f = await fixture();
    f.clock.now = new Date(f.clock.now.getTime() + 366 * DAY);
    await assert.rejects(f.updater().refresh(), (e) => code("TUF_EXPIRED")(e) && /root/.test(String(e)));
  });
});

describe("mix-and-match and wrong hashes (§5.5.2, §5.5.4, §5.6.2, §5.6.4, §5.7.3)", () => {
  it("refuses a snapshot whose bytes differ from what the timestamp lists", async () => {
    const { f, v1 } = await afterTwoReleases();
    const swapped = v1.get("1.snapshot.json") as Uint8Array;
    f.served.set("2.snapshot.json", swapped);
    // Downloaded up to the listed length (§5.5.1): a longer file is cut off, a shorter one fails its hashes.
    const listed = served<Timestamp>(f, "timestamp.json").signed.meta["snapshot.json"].length as number;
    await assert.rejects(
      f.updater().refresh(),
      code(swapped.length > listed ? "TUF_TOO_LARGE" : "TUF_MISMATCH"),
    );
  });

  it("refuses a targets file from another release served under the listed version", async () => {
    const { f, v1 } = await afterTwoReleases();
    f.served.set("2.targets.json", v1.get("1.targets.json") as Uint8Array);
    await assert.rejects(f.updater().refresh(), code("TUF_MISMATCH"));
  });

  it("refuses same-version snapshot and targets files other than the ones listed with hashes (keys stolen)", async () => {
    const { f } = await afterTwoReleases();
    const original = f.served.get("2.snapshot.json") as Uint8Array;
    f.served.set(
      "2.snapshot.json",
      await forgeSameLength<Snapshot>(f, "2.snapshot.json", f.rings.snapshot.signers),
    );
    await assert.rejects(
      f.updater().refresh(),
      (e) => code("TUF_MISMATCH")(e) && /snapshot: sha256/.test(String(e)),
    );
    f.served.set("2.snapshot.json", original);
    f.served.set(
      "2.targets.json",
      await forgeSameLength<Targets>(f, "2.targets.json", f.rings.targets.signers),
    );
    await assert.rejects(
      f.updater().refresh(),
      (e) => code("TUF_MISMATCH")(e) && /targets: sha256/.test(String(e)),
    );
  });

  it("refuses a correctly signed snapshot whose version is not the one the timestamp lists", async () => {
    const { f } = await afterTwoReleases();
    const forged = await forge<Snapshot>(f, "2.snapshot.json", f.rings.snapshot.signers, (s) => {
      s.version = 7;
    });
    f.served.set("2.snapshot.json", forged);
    f.served.set(
      "timestamp.json",
      await forge<Timestamp>(f, "timestamp.json", f.rings.timestamp.signers, (t) => {
        t.version += 1;
        t.meta["snapshot.json"] = { version: 2 }; // no hashes: only the version check can catch it
      }),
    );
    await assert.rejects(f.updater().refresh(), code("TUF_MISMATCH"));
  });

  it("refuses a correctly signed targets file whose version is not the one the snapshot lists", async () => {
    const f = await fixture();
    // The snapshot key holder lists targets v2 without hashes; the targets file served is v1.
    const snapshot = await forge<Snapshot>(f, "1.snapshot.json", f.rings.snapshot.signers, (s) => {
      s.version = 2;
      s.meta["targets.json"] = { version: 2 };
    });
    f.served.set("2.snapshot.json", snapshot);
    f.served.set("2.targets.json", f.served.get("1.targets.json") as Uint8Array);
    f.served.set(
      "timestamp.json",
      await forge<Timestamp>(f, "timestamp.json", f.rings.timestamp.signers, (t) => {
        t.version += 1;
        t.meta["snapshot.json"] = { version: 2 };
      }),
    );
    await assert.rejects(
      f.updater().refresh(),
      (e) => code("TUF_MISMATCH")(e) && /targets v1, snapshot lists v2/.test(String(e)),
    );
  });

  it("refuses a target whose bytes or length differ from its targets entry", async () => {
    const f = await fixture();
    const updater = f.updater();
    await updater.refresh();
    const info = await updater.getTargetInfo("firmware/fw-1.0.0.bin");
    assert.ok(info);
    assert.equal((await updater.downloadTarget(info)).toString(), "firmware 1.0.0");
    for (const name of f.targetFiles.keys()) f.targetFiles.set(name, Buffer.from("firmware 6.6.6"));
    await assert.rejects(updater.downloadTarget(info), code("TUF_MISMATCH"));
    for (const name of f.targetFiles.keys()) f.targetFiles.set(name, Buffer.from("firmware 1.0.0 and more"));
    await assert.rejects(updater.downloadTarget(info), code("TUF_MISMATCH"));
  });
});

describe("length limits (§5.3.3, §5.4.1, §5.5.1)", () => {
  it("refuses a timestamp longer than the limit and a snapshot longer than its listed length", async () => {
    const f = await fixture();
    const size = f.served.get("timestamp.json")!.length;
    await assert.rejects(
      f.updater({ limits: { timestampMaxLength: size - 1 } }).refresh(),
      code("TUF_TOO_LARGE"),
    );
    await f.updater({ limits: { timestampMaxLength: size } }).refresh();
    const snapshot = f.served.get("1.snapshot.json") as Uint8Array;
    f.served.set("1.snapshot.json", Buffer.concat([snapshot, Buffer.from("     ")]));
    await assert.rejects(f.updater().refresh(), code("TUF_TOO_LARGE"));
  });

  it("refuses a next root longer than rootMaxLength (§5.3.3)", async () => {
    const f = await fixture();
    const v2 = await signRoot(f.rootSpec(2, f.rings), f.rings.root.signers);
    const bytes = Buffer.from(JSON.stringify(v2));
    f.served.set("2.root.json", bytes);
    await assert.rejects(
      f.updater({ limits: { rootMaxLength: bytes.length - 1 } }).refresh(),
      code("TUF_TOO_LARGE"),
    );
    const updater = f.updater({ limits: { rootMaxLength: bytes.length } });
    await updater.refresh();
    assert.equal(updater.trusted.root.version, 2);
  });
});
