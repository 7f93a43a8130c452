import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Fixture, fixture, forge, keyring, served, signRoot } from "../../../test/tuf-fixtures.ts";
import { isTufError, type TufErrorCode } from "../errors.ts";
import type { Snapshot, Targets, Timestamp } from "../metadata.ts";
import { memoryStore } from "./store.ts";

/** Attacks on keys and signatures the client must detect (TUF spec §5.3.4, §5.3.11, and the hybrid policy). */
const code = (expected: TufErrorCode) => (error: unknown) => {
  assert.ok(isTufError(error, expected), `expected ${expected}, got ${String(error)}`);
  return true;
};

describe("fast-forward attack recovery after a timestamp key rotation (§5.3.11)", () => {
  it("forgets a fast-forwarded timestamp once root rotates the timestamp key", async () => {
    const f = await fixture();
    const store = memoryStore();
    // The attacker holds the timestamp key and pushes the version far ahead.
    f.served.set(
      "timestamp.json",
      await forge<Timestamp>(f, "timestamp.json", f.rings.timestamp.signers, (t) => {
        t.version = 1000;
      }),
    );
    await f.updater({ store }).refresh();
    // The repository recovers with its own next timestamp: the client sees a rollback...
    await f.repo.refreshTimestamp(f.signers);
    f.serve();
    await assert.rejects(f.updater({ store }).refresh(), code("TUF_ROLLBACK"));
    // ...until root v2 rotates the timestamp key.
    const rings = { ...f.rings, timestamp: keyring(1) };
    f.repo.rotateRoot(await signRoot(f.rootSpec(2, rings), f.rings.root.signers));
    await f.repo.refreshTimestamp({ ...f.signers, timestamp: rings.timestamp.signers });
    f.serve();
    const updater = f.updater({ store });
    await updater.refresh();
    assert.equal(updater.trusted.timestamp?.version, 3);
    assert.equal(updater.trusted.root.version, 2);
  });
});

describe("fast-forward attack recovery after a snapshot key rotation (§5.3.11)", () => {
  it("forgets a snapshot that fast-forwarded the targets version once root rotates the snapshot key", async () => {
    const f = await fixture();
    const store = memoryStore();
    await f.updater({ store }).refresh();
    // The attacker holds the snapshot and timestamp keys and lists targets.json at v1000.
    f.served.set(
      "2.snapshot.json",
      await forge<Snapshot>(f, "1.snapshot.json", f.rings.snapshot.signers, (s) => {
        s.version = 2;
        s.meta["targets.json"] = { version: 1000 };
      }),
    );
    f.served.set(
      "timestamp.json",
      await forge<Timestamp>(f, "timestamp.json", f.rings.timestamp.signers, (t) => {
        t.version += 1;
        t.meta["snapshot.json"] = { version: 2 };
      }),
    );
    // The snapshot is trusted and persisted (§5.5.7) before targets v1000 turns out not to exist.
    await assert.rejects(f.updater({ store }).refresh(), code("TUF_FETCH_FAILED"));
    // The repository's own next release (snapshot v2 again, timestamp v3) lists targets v2: the
    // stored snapshot v2 is not the one the timestamp lists (§5.5.2 hashes), and the real one is a
    // rollback against it...
    f.addTarget("firmware/fw-2.bin", Buffer.from("2"));
    await f.repo.publish(f.signers);
    await f.repo.refreshTimestamp(f.signers);
    f.serve();
    await assert.rejects(f.updater({ store }).refresh(), code("TUF_ROLLBACK"));
    // ...until root v2 rotates the snapshot key; the repository re-signs snapshot and timestamp.
    const rings = { ...f.rings, snapshot: keyring(1) };
    f.repo.rotateRoot(await signRoot(f.rootSpec(2, rings), f.rings.root.signers));
    await f.repo.publish({ ...f.signers, snapshot: rings.snapshot.signers });
    f.serve();
    const updater = f.updater({ store });
    await updater.refresh();
    assert.equal(updater.trusted.snapshot?.meta["targets.json"]?.version, 2);
  });
});

describe("thresholds (§5.3.4, §5.4.2) and root rotation", () => {
  it("refuses a timestamp signed by keys the root does not list", async () => {
    const f = await fixture();
    const stranger = keyring(1);
    f.served.set("timestamp.json", await forge<Timestamp>(f, "timestamp.json", stranger.signers, () => {}));
    await assert.rejects(f.updater().refresh(), code("TUF_THRESHOLD_NOT_MET"));
  });

  it("refuses snapshot and targets signed by other keys than the root names for them", async () => {
    const f = await fixture();
    const stranger = keyring(1);
    const snapshot = await forge<Snapshot>(f, "1.snapshot.json", stranger.signers, () => {});
    f.served.set("1.snapshot.json", snapshot);
    f.served.set(
      "timestamp.json",
      await forge<Timestamp>(f, "timestamp.json", f.rings.timestamp.signers, (t) => {
        t.version += 1;
        t.meta["snapshot.json"] = { version: 1 };
      }),
    );
    await assert.rejects(
      f.updater().refresh(),
      (e) => code("TUF_THRESHOLD_NOT_MET")(e) && /snapshot/.test(String(e)),
    );

    const g = await fixture();
    g.served.set(
      "1.targets.json",
      await forge<Targets>(g, "1.targets.json", g.rings.snapshot.signers, () => {}),
    );
    g.served.set(
      "1.snapshot.json",
      await forge<Snapshot>(g, "1.snapshot.json", g.rings.snapshot.signers, (s) => {
        s.meta["targets.json"] = { version: 1 };
      }),
    );
    g.served.set(
      "timestamp.json",
      await forge<Timestamp>(g, "timestamp.json", g.rings.timestamp.signers, (t) => {
        t.version += 1;
        t.meta["snapshot.json"] = { version: 1 };
      }),
    );
    await assert.rejects(
      g.updater().refresh(),
      (e) => code("TUF_THRESHOLD_NOT_MET")(e) && /targets/.test(String(e)),
    );
  });

  it("follows a 2-of-3 root rotation only with both the old and the new root thresholds", async () => {
    const f = await fixture({ rootPairs: 3, rootThreshold: 2 });
    const newRoot = keyring(3);
    const rings = { ...f.rings, root: newRoot };
    const spec = f.rootSpec(2, rings, { root: 2 });
    const pair = (ring: typeof newRoot, i: number) => [ring.signers[i]!, ring.signers[i + 3]!];
    // One old pair and two new pairs: the old root's threshold (2) is not met.
    const missingOld = await signRoot(spec, [
      ...pair(f.rings.root, 0),
      ...pair(newRoot, 0),
      ...pair(newRoot, 1),
    ]);
    f.served.set("2.root.json", Buffer.from(JSON.stringify(missingOld)));
    await assert.rejects(f.updater().refresh(), code("TUF_THRESHOLD_NOT_MET"));
    // Two old pairs and one new pair: the new root's own threshold is not met.
    const missingNew = await signRoot(spec, [
      ...pair(f.rings.root, 0),
      ...pair(f.rings.root, 1),
      ...pair(newRoot, 0),
    ]);
    f.served.set("2.root.json", Buffer.from(JSON.stringify(missingNew)));
    await assert.rejects(f.updater().refresh(), code("TUF_THRESHOLD_NOT_MET"));
    // Both thresholds: accepted.
    const complete = await signRoot(spec, [
      ...pair(f.rings.root, 0),
      ...pair(f.rings.root, 1),
      ...pair(newRoot, 0),
      ...pair(newRoot, 1),
    ]);
    f.served.set("2.root.json", Buffer.from(JSON.stringify(complete)));
    const updater = f.updater();
    await updater.refresh();
    assert.equal(updater.trusted.root.version, 2);
  });

  it("refuses a signatures list that repeats a key id (§4.2.1: one signature per key id)", async () => {
    const f = await fixture({ rootPairs: 2, rootThreshold: 2 });
    const spec = f.rootSpec(2, f.rings, { root: 2 });
    const once = await signRoot(spec, [f.rings.root.signers[0]!, f.rings.root.signers[2]!]);
    const twice = { ...once, signatures: [...once.signatures, ...once.signatures] };
    f.served.set("2.root.json", Buffer.from(JSON.stringify(twice)));
    await assert.rejects(f.updater().refresh(), code("TUF_MALFORMED"));
  });
});

describe("the hybrid policy (Bulwark) versus the classical TUF threshold", () => {
  async function timestampWithout(which: "ecdsa" | "ml-dsa" | "bad-ml-dsa"): Promise<Fixture> {
    const f = await fixture();
    const envelope = served<Timestamp>(f, "timestamp.json");
    const ecdsa = f.rings.timestamp.ecdsa[0]!.keyid;
    const mldsa = f.rings.timestamp.mldsa[0]!.keyid;
    if (which === "ecdsa") envelope.signatures = envelope.signatures.filter((s) => s.keyid !== ecdsa);
    if (which === "ml-dsa") envelope.signatures = envelope.signatures.filter((s) => s.keyid !== mldsa);
    if (which === "bad-ml-dsa") {
      const signature = envelope.signatures.find((s) => s.keyid === mldsa)!;
      signature.sig = `${signature.sig.slice(0, 20)}${signature.sig[20] === "0" ? "1" : "0"}${signature.sig.slice(21)}`;
    }
    f.served.set("timestamp.json", Buffer.from(JSON.stringify(envelope)));
    return f;
  }

  it("the hybrid policy refuses metadata whose ML-DSA signature is missing; classical accepts it", async () => {
    const f = await timestampWithout("ml-dsa");
    await assert.rejects(f.updater().refresh(), code("TUF_THRESHOLD_NOT_MET"));
    await f.updater({ policy: "classical" }).refresh();
  });

  it("the hybrid policy refuses an invalid ML-DSA signature; classical accepts it", async () => {
    const f = await timestampWithout("bad-ml-dsa");
    await assert.rejects(f.updater({ policy: "hybrid" }).refresh(), code("TUF_THRESHOLD_NOT_MET"));
    await f.updater({ policy: "classical" }).refresh();
  });

  it("both refuse metadata whose ECDSA signature is missing", async () => {
    const f = await timestampWithout("ecdsa");
    await assert.rejects(f.updater().refresh(), code("TUF_THRESHOLD_NOT_MET"));
    await assert.rejects(f.updater({ policy: "classical" }).refresh(), code("TUF_THRESHOLD_NOT_MET"));
  });

  it("a root rotation missing the new root's ML-DSA signature passes only the classical policy", async () => {
    const f = await fixture();
    const newRoot = keyring(1);
    const v2 = await signRoot(f.rootSpec(2, { ...f.rings, root: newRoot }), [
      ...f.rings.root.signers,
      newRoot.signers[0]!,
    ]);
    f.served.set("2.root.json", Buffer.from(JSON.stringify(v2)));
    await assert.rejects(f.updater().refresh(), code("TUF_THRESHOLD_NOT_MET"));
    const classical = f.updater({ policy: "classical" });
    await classical.refresh();
    assert.equal(classical.trusted.root.version, 2);
  });
});
