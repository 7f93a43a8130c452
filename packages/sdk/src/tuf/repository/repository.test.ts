import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { fixture, keyring, served } from "../../../test/tuf-fixtures.ts";
import { canonicalBytes } from "../canonical.ts";
import { isTufError } from "../errors.ts";
import type { Envelope, Root, Snapshot, Timestamp } from "../metadata.ts";
import { TufRepository } from "./repository.ts";
import {
  createSigningRequest,
  importSignature,
  type SigningRequest,
  signSigningRequest,
} from "./signing-request.ts";

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

describe("repository writer (TUF spec §6)", () => {
  it("publishes versioned files with snapshot and timestamp listing versions, lengths and hashes (§6.2, §6.3)", async () => {
    const f = await fixture();
    assert.deepEqual([...f.repo.files().keys()].sort(), [
      "1.root.json",
      "1.snapshot.json",
      "1.targets.json",
      "timestamp.json",
    ]);
    const snapshot = served<Snapshot>(f, "1.snapshot.json").signed;
    const targetsFile = f.served.get("1.targets.json") as Uint8Array;
    assert.deepEqual(snapshot.meta["targets.json"], {
      version: 1,
      length: targetsFile.length,
      hashes: { sha256: sha256(targetsFile), sha512: createHash("sha512").update(targetsFile).digest("hex") },
    });
    const timestamp = served<Timestamp>(f, "timestamp.json").signed;
    assert.equal(
      timestamp.meta["snapshot.json"].hashes?.sha256,
      sha256(f.served.get("1.snapshot.json") as Uint8Array),
    );
    // Expiry policy: the online timestamp lives one day, the snapshot a week, targets 90 days.
    assert.equal(timestamp.expires, "2026-12-02T00:00:00Z");
    assert.equal(snapshot.expires, "2026-12-08T00:00:00Z");
    assert.equal(served(f, "1.targets.json").signed.expires, "2027-03-01T00:00:00Z");
  });

  it("refreshes the timestamp alone with the online key, and says when it is due", async () => {
    const f = await fixture();
    assert.equal(f.repo.timestampDue(3600), false);
    f.clock.now = new Date(Date.parse("2026-12-01T23:30:00Z"));
    assert.equal(f.repo.timestampDue(3600), true);
    await f.repo.refreshTimestamp({ timestamp: f.signers.timestamp });
    const timestamp = JSON.parse(f.repo.files().get("timestamp.json")!.toString()) as Envelope<Timestamp>;
    assert.equal(timestamp.signed.version, 2);
    assert.equal(timestamp.signed.meta["snapshot.json"].version, 1);
    assert.equal(timestamp.signed.expires, "2026-12-02T23:30:00Z");
    assert.equal(f.repo.timestampDue(3600), false);
  });

  it("refuses to publish a role its signers cannot sign to threshold (here: no ML-DSA signer), writing nothing", async () => {
    const f = await fixture();
    const before = new Map(f.repo.files());
    f.addTarget("firmware/fw-2.bin", Buffer.from("2"));
    const ecdsaOnly = f.rings.targets.signers.filter((s) => s.key.keytype === "ecdsa");
    await assert.rejects(f.repo.publish({ ...f.signers, targets: ecdsaOnly }), (e) =>
      isTufError(e, "TUF_THRESHOLD_NOT_MET"),
    );
    assert.deepEqual(new Map(f.repo.files()), before);
    await f.repo.publish(f.signers);
    assert.ok(f.repo.files().has("2.targets.json"));
  });

  it("delegates a component's paths to its own keys; snapshot lists the delegated role (§4.5)", async () => {
    const f = await fixture();
    const component = keyring(1);
    f.repo.delegate({
      name: "component-modem",
      keys: component.keys,
      threshold: 1,
      paths: ["modem/*"],
      terminating: true,
    });
    f.addTarget("modem/mdm-3.bin", Buffer.from("modem 3"), { version: "3" }, "component-modem");
    await assert.rejects(f.repo.publish(f.signers), (e) => isTufError(e, "TUF_THRESHOLD_NOT_MET"));
    await f.repo.publish({ ...f.signers, "component-modem": component.signers });
    const snapshot = JSON.parse(f.repo.files().get("2.snapshot.json")!.toString()) as Envelope<Snapshot>;
    assert.deepEqual(Object.keys(snapshot.signed.meta).sort(), ["component-modem.json", "targets.json"]);
    assert.equal(f.repo.targets("targets")?.delegations?.roles[0]?.name, "component-modem");
    assert.throws(
      () => f.repo.delegate({ name: "component-modem", keys: [], threshold: 1 }),
      (e) => isTufError(e, "TUF_MALFORMED"),
    );
    for (const name of ["snapshot", "../x", "a/b", "", "Component"]) {
      assert.throws(
        () => f.repo.delegate({ name, keys: [], threshold: 1 }),
        (e) => isTufError(e, "TUF_MALFORMED"),
        name,
      );
    }
    for (const path of ["../etc/passwd", "/abs", "a//b", "a/./b", "a\\b", ""]) {
      assert.throws(
        () => f.repo.setTarget(path, { length: 1, hashes: { sha256: "00" } }),
        (e) => isTufError(e, "TUF_MALFORMED"),
        path,
      );
    }
  });

  it("reopens from its published files and continues the versions", async () => {
    const f = await fixture();
    const reopened = TufRepository.load(f.repo.files(), { now: () => f.clock.now });
    reopened.setTarget("firmware/fw-9.bin", { length: 1, hashes: { sha256: sha256(Buffer.from("9")) } });
    await reopened.publish(f.signers);
    assert.ok(reopened.files().has("2.targets.json") && reopened.files().has("2.snapshot.json"));
    assert.ok(reopened.targets()?.targets["firmware/fw-1.0.0.bin"], "the earlier target is kept");
  });
});

describe("offline root keys: signing requests and detached signatures (TUF spec §6.1)", () => {
  it("rotates a 2-of-3 root through a signing request signed by two old and two new key holders", async () => {
    const f = await fixture({ rootPairs: 3, rootThreshold: 2 });
    const newRoot = keyring(3);
    const next = f.rootSpec(2, { ...f.rings, root: newRoot }, { root: 2 });
    // The request asks every old and new root key; it travels as JSON to the offline holders.
    const request = JSON.parse(
      JSON.stringify(createSigningRequest(next, [...f.rings.root.keys, ...newRoot.keys])),
    ) as SigningRequest;
    const canonical = Buffer.from(request.canonical, "base64");
    assert.deepEqual(canonical, canonicalBytes(next));
    assert.equal(request.sha256, sha256(canonical));
    assert.equal(Object.keys(request.keys).length, 12);
    const verifierKeys = { ...f.repo.root.keys, ...next.keys };
    let envelope: Envelope<Root> = { signed: next, signatures: [] };
    const holders = [
      f.rings.root.ecdsa[0]!,
      f.rings.root.mldsa[0]!,
      newRoot.ecdsa[0]!,
      newRoot.mldsa[0]!,
      newRoot.ecdsa[1]!,
      newRoot.mldsa[1]!,
    ];
    for (const holder of holders)
      envelope = importSignature(envelope, signSigningRequest(request, holder.privateKey), verifierKeys);
    // One old holder so far: the old root's threshold (2) is not met, rotation is refused.
    assert.throws(
      () => f.repo.rotateRoot(envelope),
      (e) => isTufError(e, "TUF_THRESHOLD_NOT_MET"),
    );
    for (const holder of [f.rings.root.ecdsa[1]!, f.rings.root.mldsa[1]!]) {
      envelope = importSignature(envelope, signSigningRequest(request, holder.privateKey), verifierKeys);
    }
    f.repo.rotateRoot(envelope);
    assert.equal(f.repo.root.version, 2);
    assert.ok(f.repo.files().has("2.root.json"));
    // A client bootstrapped with v1 follows the rotation.
    f.serve();
    const updater = f.updater();
    await updater.refresh();
    assert.equal(updater.trusted.root.version, 2);
  });

  it("refuses a key not asked, a tampered request, a bad, unknown or repeated signature", async () => {
    const f = await fixture();
    const next = f.rootSpec(2, f.rings);
    const request = createSigningRequest(next, f.rings.root.keys);
    const holder = f.rings.root.ecdsa[0]!;
    const stranger = keyring(1).ecdsa[0]!;
    const refused = (e: unknown) => isTufError(e, "TUF_SIGNING_REQUEST");
    assert.throws(() => signSigningRequest(request, stranger.privateKey), refused);
    const tampered = {
      ...request,
      signed: { ...request.signed, expires: "2099-01-01T00:00:00Z" },
    } as SigningRequest;
    assert.throws(() => signSigningRequest(tampered, holder.privateKey), refused);
    assert.throws(() => signSigningRequest({ ...request, sha256: "00" }, holder.privateKey), refused);
    const signature = signSigningRequest(request, holder.privateKey);
    const keys = f.repo.root.keys;
    const empty: Envelope<Root> = { signed: next, signatures: [] };
    const once = importSignature(empty, signature, keys);
    assert.throws(() => importSignature(once, signature, keys), refused);
    const flipped = {
      ...signature,
      sig: `${signature.sig.slice(0, -2)}${signature.sig.endsWith("00") ? "01" : "00"}`,
    };
    assert.throws(() => importSignature(empty, flipped, keys), refused);
    assert.throws(() => importSignature(empty, { keyid: stranger.keyid, sig: signature.sig }, keys), refused);
    // A signature made for another version of the metadata does not verify on this one.
    const other = createSigningRequest(f.rootSpec(3, f.rings), f.rings.root.keys);
    assert.throws(() => importSignature(empty, signSigningRequest(other, holder.privateKey), keys), refused);
  });
});
