import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fixture, served } from "../../test/tuf-fixtures.ts";
import { isTufError } from "./errors.ts";
import type { Envelope, Root, Signed, Targets } from "./metadata.ts";
import { countSignatures } from "./threshold.ts";
import { parseMetadata } from "./validate.ts";

/** Strict validation of untrusted metadata (TUF spec §4 "Document formats"). */
const f = await fixture();
const root = served<Root>(f, "1.root.json");
const targets = served<Targets>(f, "1.targets.json");

function bytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

function malformed(envelope: unknown, type: Signed["_type"], why: RegExp): void {
  assert.throws(
    () => parseMetadata(bytes(envelope), type),
    (e) => isTufError(e, "TUF_MALFORMED") && why.test(e.message),
  );
}

function withSigned<T extends Signed>(
  envelope: Envelope<T>,
  change: (signed: Record<string, unknown>) => void,
) {
  const copy = structuredClone(envelope);
  change(copy.signed as unknown as Record<string, unknown>);
  return copy;
}

describe("metadata validators", () => {
  it("accepts what the writer produced (positive control)", () => {
    assert.equal(parseMetadata(bytes(root), "root").signed.version, 1);
    assert.equal(
      parseMetadata(bytes(targets), "targets").signed.targets["firmware/fw-1.0.0.bin"]?.length,
      14,
    );
  });

  it("refuses non-JSON, a wrong _type and a bad envelope", () => {
    assert.throws(
      () => parseMetadata(Buffer.from("{"), "root"),
      (e) => isTufError(e, "TUF_MALFORMED"),
    );
    malformed(root, "timestamp", /expected "timestamp"/);
    malformed({ signed: root.signed }, "root", /signatures/);
    malformed({ ...root, signatures: [{ keyid: "ab", sig: "XYZ" }] }, "root", /must be hex/);
    malformed({ ...root, signatures: [...root.signatures, root.signatures[0]] }, "root", /unique/);
  });

  it("refuses bad common fields (§4.3 SPEC_VERSION, VERSION, §4.2.3 EXPIRES)", () => {
    malformed(
      withSigned(root, (s) => {
        s.spec_version = "2.0.0";
      }),
      "root",
      /spec_version/,
    );
    malformed(
      withSigned(root, (s) => {
        s.version = 0;
      }),
      "root",
      /version/,
    );
    malformed(
      withSigned(root, (s) => {
        s.version = 1.5;
      }),
      "root",
      /version/,
    );
    malformed(
      withSigned(root, (s) => {
        s.expires = "2030-01-01T00:00:00.000Z";
      }),
      "root",
      /expires/,
    );
    malformed(
      withSigned(root, (s) => {
        s.expires = "2030-13-45T00:00:00Z";
      }),
      "root",
      /expires/,
    );
  });

  it("refuses a root without one of the four roles, or with a bad threshold or key", () => {
    malformed(
      withSigned(root, (s) => void delete (s.roles as Record<string, unknown>).timestamp),
      "root",
      /roles\.timestamp/,
    );
    malformed(
      withSigned(root, (s) => {
        (s.roles as Root["roles"]).root.threshold = 0;
      }),
      "root",
      /threshold/,
    );
    malformed(
      withSigned(root, (s) => {
        const role = (s.roles as Root["roles"]).root;
        role.keyids = [...role.keyids, role.keyids[0] as string];
      }),
      "root",
      /duplicates/,
    );
    malformed(
      withSigned(root, (s) => {
        s.consistent_snapshot = "yes";
      }),
      "root",
      /consistent_snapshot/,
    );
    malformed(
      withSigned(root, (s) => {
        s.keys = { x: { keytype: "ecdsa", scheme: "ecdsa-sha2-nistp256" } };
      }),
      "root",
      /keyval/,
    );
  });

  it("refuses bad targets and delegations (§4.5)", () => {
    malformed(
      withSigned(targets, (s) => {
        (s.targets as Targets["targets"])["a"] = { length: -1, hashes: { sha256: "00" } };
      }),
      "targets",
      /length/,
    );
    malformed(
      withSigned(targets, (s) => {
        (s.targets as Targets["targets"])["a"] = { length: 1, hashes: { sha256: "AB" } };
      }),
      "targets",
      /hex/,
    );
    malformed(
      withSigned(targets, (s) => {
        (s.targets as Targets["targets"])["a"] = { length: 1, hashes: {} };
      }),
      "targets",
      /at least one/,
    );
    const role = { name: "c", keyids: [], threshold: 1, terminating: false, paths: ["a/*"] };
    const delegating = (roles: unknown[]) =>
      withSigned(targets, (s) => {
        s.delegations = { keys: {}, roles };
      });
    assert.ok(parseMetadata(bytes(delegating([role])), "targets").signed.delegations);
    malformed(delegating([{ ...role, path_hash_prefixes: ["ab"] }]), "targets", /mutually exclusive/);
    malformed(delegating([{ ...role, name: "root" }]), "targets", /bad role name/);
    malformed(delegating([role, { ...role }]), "targets", /unique/);
    malformed(delegating([{ ...role, terminating: "no" }]), "targets", /terminating/);
  });

  it("refuses a snapshot without targets.json and a timestamp listing more than snapshot.json", () => {
    const snapshot = served(f, "1.snapshot.json");
    malformed(
      withSigned(snapshot, (s) => {
        s.meta = { "other.json": { version: 1 } };
      }),
      "snapshot",
      /targets\.json/,
    );
    const timestamp = served(f, "timestamp.json");
    malformed(
      withSigned(timestamp, (s) => {
        (s.meta as Record<string, unknown>)["x.json"] = { version: 1 };
      }),
      "timestamp",
      /only/,
    );
  });

  it("keeps fields the specification does not define, so signatures over them still verify", () => {
    const extended = structuredClone(root);
    (extended.signed as unknown as Record<string, unknown>).x_bulwark = { note: "kept" };
    const parsed = parseMetadata(bytes(extended), "root");
    assert.deepEqual((parsed.signed as unknown as Record<string, unknown>).x_bulwark, { note: "kept" });
    // The extra field was not signed: the signatures no longer verify (positive control: they did before).
    assert.deepEqual(countSignatures(parsed, parsed.signed.roles.root, parsed.signed.keys), {
      ecdsa: 0,
      "ml-dsa": 0,
    });
    const original = parseMetadata(bytes(root), "root");
    assert.deepEqual(countSignatures(original, original.signed.roles.root, original.signed.keys), {
      ecdsa: 1,
      "ml-dsa": 1,
    });
  });
});
