import { createHash, type KeyObject, verify } from "node:crypto";
import { canonicalJson } from "./canonical.ts";

/**
 * Verification of Bulwark's hash-chained audit log, shared by the server and the offline
 * `bulwark audit verify`. Each entry's hash is SHA-256 over the previous hash and the canonical
 * JSON of the entry (RFC 8785 in spirit); signed checkpoints pin (seq, hash) pairs with a key held
 * in the server's key custody, so an edited, deleted, inserted or reordered entry is detected even
 * by someone who can rewrite the whole database but not sign.
 */
export const GENESIS_HASH = "0".repeat(64);

export interface ChainEntry {
  seq: number;
  at: number;
  actorType: string;
  actorId: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  outcome: string;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export interface Checkpoint {
  seq: number;
  hash: string;
  at: number;
  /** base64 ECDSA P-256 / SHA-256 signature (DER) over `checkpointMessage`. */
  signature: string;
}

export interface ChainProblem {
  seq: number;
  problem:
    | "hash-mismatch"
    | "broken-link"
    | "gap"
    | "head-mismatch"
    | "checkpoint-mismatch"
    | "checkpoint-signature"
    | "truncated"
    | "anchor-unsigned";
}

export interface ChainResult {
  entries: number;
  checkpoints: number;
  firstSeq: number;
  lastSeq: number;
  problem?: ChainProblem;
}

/** The hashed content of an entry: everything but the hash itself. */
export function entryHash(entry: Omit<ChainEntry, "hash">): string {
  const { prevHash, ...content } = entry;
  return createHash("sha256").update(prevHash).update("\n").update(canonicalJson(content)).digest("hex");
}

/** What a checkpoint signs: a versioned canonical encoding of (seq, hash, at). */
export function checkpointMessage(checkpoint: Omit<Checkpoint, "signature">): Buffer {
  return Buffer.from(
    canonicalJson({
      v: "bulwark-audit-checkpoint-v1",
      seq: checkpoint.seq,
      hash: checkpoint.hash,
      at: checkpoint.at,
    }),
  );
}

export function checkpointSignatureValid(checkpoint: Checkpoint, publicKey: KeyObject): boolean {
  try {
    return verify(
      "sha256",
      checkpointMessage(checkpoint),
      { key: publicKey, dsaEncoding: "der" },
      Buffer.from(checkpoint.signature, "base64"),
    );
  } catch {
    return false;
  }
}

/**
 * Streams entries in order through `push`, then `finish` checks checkpoints and the head. The
 * chain starts at `anchor` (a signed checkpoint left by retention pruning) or at genesis.
 */
export class ChainVerifier {
  #prevHash: string;
  #expectedSeq: number;
  #count = 0;
  #problem: ChainProblem | undefined;
  readonly #hashes = new Map<number, string>();
  readonly #anchor: { seq: number; hash: string } | null;
  readonly #startVerified: boolean;

  /**
   * `anchor`: where the chain starts when it does not start at genesis: retention's anchor, which
   * must be a signed checkpoint, or (with `startVerified`) the head of an earlier verification the
   * caller vouches for, from which only the entries after it are walked.
   */
  constructor(
    anchor: { seq: number; hash: string } | null = null,
    options: { startVerified?: boolean } = {},
  ) {
    this.#anchor = anchor;
    this.#startVerified = options.startVerified ?? false;
    this.#prevHash = anchor?.hash ?? GENESIS_HASH;
    this.#expectedSeq = (anchor?.seq ?? 0) + 1;
  }

  get problem(): ChainProblem | undefined {
    return this.#problem;
  }

  /** The hash of the last entry accepted (the start's hash before any). */
  get lastHash(): string {
    return this.#prevHash;
  }

  /** Returns false once a problem is found (later entries are not examined). */
  push(entry: ChainEntry): boolean {
    if (this.#problem) return false;
    const { hash, ...rest } = entry;
    if (entry.seq !== this.#expectedSeq) this.#problem = { seq: entry.seq, problem: "gap" };
    else if (entry.prevHash !== this.#prevHash) this.#problem = { seq: entry.seq, problem: "broken-link" };
    else if (entryHash(rest) !== hash) this.#problem = { seq: entry.seq, problem: "hash-mismatch" };
    if (this.#problem) return false;
    this.#hashes.set(entry.seq, hash);
    this.#prevHash = hash;
    this.#expectedSeq++;
    this.#count++;
    return true;
  }

  finish(options: {
    checkpoints: Checkpoint[];
    publicKey?: KeyObject;
    head?: { seq: number; hash: string };
  }): ChainResult {
    const firstSeq = (this.#anchor?.seq ?? 0) + 1;
    const lastSeq = this.#expectedSeq - 1;
    const result: ChainResult = { entries: this.#count, checkpoints: 0, firstSeq, lastSeq };
    const fail = (problem: ChainProblem) => ({ ...result, problem });
    if (this.#problem) return fail(this.#problem);
    const sorted = [...options.checkpoints].sort((a, b) => a.seq - b.seq);
    for (const checkpoint of sorted) {
      if (options.publicKey && !checkpointSignatureValid(checkpoint, options.publicKey))
        return fail({ seq: checkpoint.seq, problem: "checkpoint-signature" });
      if (checkpoint.seq < firstSeq - 1) continue; // before the anchor: pruned.
      if (checkpoint.seq > lastSeq) return fail({ seq: lastSeq + 1, problem: "truncated" });
      const known = checkpoint.seq === firstSeq - 1 ? this.#anchor?.hash : this.#hashes.get(checkpoint.seq);
      if (known !== checkpoint.hash) return fail({ seq: checkpoint.seq, problem: "checkpoint-mismatch" });
      result.checkpoints++;
    }
    // A pruned log starts from a checkpoint that must itself be signed.
    if (
      this.#anchor &&
      !this.#startVerified &&
      !sorted.some((c) => c.seq === this.#anchor!.seq && c.hash === this.#anchor!.hash)
    )
      return fail({ seq: this.#anchor.seq, problem: "anchor-unsigned" });
    if (options.head && (options.head.seq !== lastSeq || options.head.hash !== this.#prevHash))
      return fail({ seq: lastSeq + 1, problem: "head-mismatch" });
    return result;
  }
}

/** One line of a `GET /api/v1/audit/export` JSON-lines file. */
export type ExportLine =
  | {
      type: "header";
      format: "bulwark-audit-v1";
      anchor: { seq: number; hash: string } | null;
      exportedAt: string;
    }
  | ({ type: "entry" } & ChainEntry)
  | ({ type: "checkpoint" } & Checkpoint);

/** Verifies an export offline: every line in order, every checkpoint against the public key. */
export function verifyExport(lines: Iterable<string>, publicKey: KeyObject): ChainResult {
  let verifier: ChainVerifier | undefined;
  const checkpoints: Checkpoint[] = [];
  for (const raw of lines) {
    if (!raw.trim()) continue;
    const line = JSON.parse(raw) as ExportLine;
    if (line.type === "header") {
      if (verifier) throw new Error("a second header line");
      verifier = new ChainVerifier(line.anchor);
    } else if (line.type === "entry") {
      if (!verifier) throw new Error("an entry before the header line");
      const { type: _type, ...entry } = line;
      verifier.push(entry);
    } else if (line.type === "checkpoint") {
      const { type: _type, ...checkpoint } = line;
      checkpoints.push(checkpoint);
    } else throw new Error("an unknown line type");
  }
  if (!verifier) throw new Error("not a Bulwark audit export (no header line)");
  return verifier.finish({ checkpoints, publicKey });
}
