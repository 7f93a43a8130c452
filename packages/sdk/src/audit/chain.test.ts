import assert from "node:assert/strict";
import { generateKeyPairSync, sign } from "node:crypto";
import { describe, it } from "node:test";
import { canonicalJson } from "./canonical.ts";
import {
  type ChainEntry,
  ChainVerifier,
  type Checkpoint,
  checkpointMessage,
  entryHash,
  GENESIS_HASH,
  verifyExport,
} from "./chain.ts";

const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
const other = generateKeyPairSync("ec", { namedCurve: "P-256" });

/** A chain of `n` entries after `from` (seq, hash), built the way the server appends. */
function chain(n: number, from = { seq: 0, hash: GENESIS_HASH }): ChainEntry[] {
  const out: ChainEntry[] = [];
  let prevHash = from.hash;
  for (let seq = from.seq + 1; seq <= from.seq + n; seq++) {
    const content = {
      seq,
      at: 1_700_000_000_000 + seq,
      actorType: "user",
      actorId: "u1",
      action: "device.disable",
      targetType: "device",
      targetId: `d${seq}`,
      outcome: "success",
      details: { reason: "test", seq },
      prevHash,
    };
    const hash = entryHash(content);
    out.push({ ...content, hash });
    prevHash = hash;
  }
  return out;
}

const checkpoint = (entry: { seq: number; hash: string }, key = privateKey): Checkpoint => {
  const body = { seq: entry.seq, hash: entry.hash, at: 1_700_000_100_000 };
  return { ...body, signature: sign("sha256", checkpointMessage(body), key).toString("base64") };
};

function verify(
  entries: ChainEntry[],
  checkpoints: Checkpoint[],
  anchor: { seq: number; hash: string } | null = null,
) {
  const v = new ChainVerifier(anchor);
  for (const e of entries) v.push(e);
  return v.finish({
    checkpoints,
    publicKey,
    head: entries.at(-1) && { seq: entries.at(-1)!.seq, hash: entries.at(-1)!.hash },
  });
}

describe("audit: canonical JSON (RFC 8785 in spirit)", () => {
  it("sorts keys by code unit, drops undefined members, refuses non-finite numbers", () => {
    assert.equal(
      canonicalJson({ b: 1, a: [true, null, "x"], c: undefined, B: { z: 1, y: 2 } }),
      '{"B":{"y":2,"z":1},"a":[true,null,"x"],"b":1}',
    );
    assert.equal(canonicalJson({ é: 1, e: 2 }), '{"e":2,"é":1}');
    assert.throws(() => canonicalJson({ x: Number.NaN }), /non-finite/);
  });
});

describe("audit: the hash chain and its signed checkpoints", () => {
  const entries = chain(10);
  const checkpoints = [checkpoint(entries[4]!), checkpoint(entries[9]!)];

  it("verifies an intact chain with its checkpoints", () => {
    assert.deepEqual(verify(entries, checkpoints), { entries: 10, checkpoints: 2, firstSeq: 1, lastSeq: 10 });
  });

  it("detects an edited entry, a deleted one, a reordering and a relinked rewrite", () => {
    const edited = entries.map((e) => (e.seq === 3 ? { ...e, outcome: "failure" } : e));
    assert.deepEqual(verify(edited, checkpoints).problem, { seq: 3, problem: "hash-mismatch" });
    const deleted = entries.filter((e) => e.seq !== 6);
    assert.deepEqual(verify(deleted, checkpoints).problem, { seq: 7, problem: "gap" });
    const swapped = [...entries];
    [swapped[2], swapped[3]] = [swapped[3]!, swapped[2]!];
    assert.deepEqual(verify(swapped, checkpoints).problem, { seq: 4, problem: "gap" });
    // Someone who can rewrite the whole table edits entry 3 and recomputes every later hash, but cannot sign.
    const relinked: ChainEntry[] = [];
    let prevHash = GENESIS_HASH;
    for (const e of entries) {
      const { hash: _old, ...content } = {
        ...e,
        prevHash,
        details: e.seq === 3 ? { forged: true } : e.details,
      };
      prevHash = entryHash(content);
      relinked.push({ ...content, hash: prevHash });
    }
    assert.equal(verify(relinked, []).problem, undefined, "control: the rewrite is internally consistent");
    assert.deepEqual(verify(relinked, checkpoints).problem, { seq: 5, problem: "checkpoint-mismatch" });
  });

  it("detects truncation, a wrong head and a checkpoint signed by another key", () => {
    assert.deepEqual(verify(entries.slice(0, 8), checkpoints).problem, { seq: 9, problem: "truncated" });
    const v = new ChainVerifier();
    for (const e of entries) v.push(e);
    assert.deepEqual(v.finish({ checkpoints: [], head: { seq: 11, hash: "f".repeat(64) } }).problem, {
      seq: 11,
      problem: "head-mismatch",
    });
    assert.deepEqual(verify(entries, [checkpoint(entries[4]!, other.privateKey)]).problem, {
      seq: 5,
      problem: "checkpoint-signature",
    });
  });

  it("a pruned log verifies from a signed anchor, and only from a signed one", () => {
    const anchor = { seq: entries[4]!.seq, hash: entries[4]!.hash };
    const tail = entries.slice(5);
    assert.equal(verify(tail, checkpoints, anchor).problem, undefined);
    assert.deepEqual(verify(tail, [checkpoint(entries[9]!)], anchor).problem, {
      seq: 5,
      problem: "anchor-unsigned",
    });
  });

  it("verifies a JSON-lines export offline", () => {
    const lines = [
      JSON.stringify({
        type: "header",
        format: "bulwark-audit-v1",
        anchor: null,
        exportedAt: "2026-12-06T00:00:00Z",
      }),
      ...entries.map((e) => JSON.stringify({ type: "entry", ...e })),
      ...checkpoints.map((c) => JSON.stringify({ type: "checkpoint", ...c })),
    ];
    assert.equal(verifyExport(lines, publicKey).problem, undefined);
    assert.deepEqual(verifyExport(lines, other.publicKey).problem, {
      seq: 5,
      problem: "checkpoint-signature",
    });
    assert.throws(() => verifyExport(lines.slice(1), publicKey), /an entry before the header line/);
  });
});
