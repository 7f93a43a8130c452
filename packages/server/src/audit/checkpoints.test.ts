import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, it } from "node:test";
import { verifyExport } from "@bulwark/sdk/audit/chain";
import { FileKeyCustody } from "../custody/file-key-custody.ts";
import { migrate } from "../store/migrate.ts";
import { migrations } from "../store/migrations.ts";
import { SqliteStore } from "../store/sqlite.ts";
import { appendAudit, verifyAuditChain } from "./audit-log.ts";
import {
  type CheckpointSigner,
  createCheckpoint,
  ensureCheckpointKey,
  listCheckpoints,
} from "./checkpoints.ts";
import { pruneAudit, setRetentionDays } from "./retention.ts";

const DAY = 24 * 3600 * 1000;

describe("signed audit checkpoints and retention", () => {
  let store: SqliteStore;
  let custody: FileKeyCustody;
  let signer: CheckpointSigner;
  const append = (i: number, at: number) =>
    store.transaction((tx) =>
      appendAudit(
        tx,
        { actor: { type: "system" }, action: "test.action", outcome: "success", details: { i } },
        at,
      ),
    );

  beforeEach(async () => {
    const dir = mkdtempSync(join(tmpdir(), "bulwark-checkpoint-"));
    store = new SqliteStore(join(dir, "a.db"));
    await migrate(store, migrations);
    custody = new FileKeyCustody({ dir: join(dir, "keys"), masterKey: randomBytes(32) });
    signer = await ensureCheckpointKey(store, custody);
    const old = Date.now() - 100 * DAY;
    for (let i = 1; i <= 4; i++) await append(i, old + i);
    await createCheckpoint(store, custody, signer);
    for (let i = 5; i <= 8; i++) await append(i, Date.now());
    await createCheckpoint(store, custody, signer);
  });

  it("checkpoints verify with the custody public key and a forged one does not", async () => {
    assert.equal((await verifyAuditChain(store, signer.publicKey)).checkpoints, 2);
    const other = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey;
    assert.equal((await verifyAuditChain(store, other)).problem?.problem, "checkpoint-signature");
  });

  it("a consistently rewritten chain is caught by the checkpoint", async () => {
    // Rewrite entry 2 and recompute every later hash: the chain alone looks intact.
    const { entryHash } = await import("@bulwark/sdk/audit/chain");
    const { listAudit } = await import("./audit-log.ts");
    const entries = await listAudit(store, { limit: 100 });
    let prev = "0".repeat(64);
    for (const e of entries) {
      const details = e.seq === 2 ? { i: 999 } : e.details;
      const { hash: _h, ...rest } = { ...e, details, prevHash: prev };
      const hash = entryHash(rest);
      await store.run(`UPDATE audit_log SET details = ?, prev_hash = ?, hash = ? WHERE seq = ?`, [
        JSON.stringify(details),
        prev,
        hash,
        e.seq,
      ]);
      prev = hash;
    }
    await store.run(`UPDATE audit_head SET hash = ? WHERE id = 1`, [prev]);
    assert.equal((await verifyAuditChain(store, signer.publicKey)).problem?.problem, "checkpoint-mismatch");
  });

  it("retention prunes only up to a signed checkpoint, and verification starts there", async () => {
    await setRetentionDays(store, 30);
    const result = await pruneAudit(store);
    assert.equal(result.pruned, 4);
    assert.equal(result.anchor?.seq, 4);
    const verified = await verifyAuditChain(store, signer.publicKey);
    assert.equal(verified.problem, undefined);
    assert.equal(verified.firstSeq, 5);
    assert.equal((await listCheckpoints(store))[0]?.seq, 4);
    // Pruning again finds nothing older than the anchor.
    assert.equal((await pruneAudit(store)).pruned, 0);
    // Deleting the entry right after the anchor is detected.
    await store.run(`DELETE FROM audit_log WHERE seq = 5`);
    assert.equal((await verifyAuditChain(store, signer.publicKey)).problem?.problem, "gap");
  });

  it("without a retention period nothing is pruned", async () => {
    assert.equal((await pruneAudit(store)).pruned, 0);
  });

  it("an export line that is edited, dropped or reordered fails offline verification", async () => {
    const { listAudit } = await import("./audit-log.ts");
    const entries = await listAudit(store, { limit: 100 });
    const lines = [
      JSON.stringify({ type: "header", format: "bulwark-audit-v1", anchor: null, exportedAt: "x" }),
      ...entries.map((e) => JSON.stringify({ type: "entry", ...e })),
      ...(await listCheckpoints(store)).map((c) => JSON.stringify({ type: "checkpoint", ...c })),
    ];
    assert.equal(verifyExport(lines, signer.publicKey).problem, undefined);
    const edited = [...lines];
    edited[3] = edited[3]!.replace('"i":3', '"i":4');
    assert.equal(verifyExport(edited, signer.publicKey).problem?.problem, "hash-mismatch");
    const dropped = lines.filter((_, i) => i !== 8);
    assert.equal(verifyExport(dropped, signer.publicKey).problem?.problem, "truncated");
    const swapped = [...lines];
    [swapped[2], swapped[3]] = [swapped[3]!, swapped[2]!];
    assert.equal(verifyExport(swapped, signer.publicKey).problem?.problem, "gap");
  });
});
