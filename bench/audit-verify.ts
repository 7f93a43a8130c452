/**
 * `npm run bench -- audit-verify [ENTRIES] [NEW]`: the Annex I matrix's (2)(l) check on a log of
 * ENTRIES audit entries (default 50,000) after NEW more were appended (default 100): the
 * incremental verification (from the verified point) against the full walk of the same log, on
 * SQLite, in the same run. Goal: the incremental check costs at most 5 % of the full walk.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  appendAudit,
  verifyAuditChainFull,
  verifyAuditChainIncremental,
} from "../packages/server/src/audit/audit-log.ts";
import { migrate } from "../packages/server/src/store/migrate.ts";
import { migrations } from "../packages/server/src/store/migrations.ts";
import { SqliteStore } from "../packages/server/src/store/sqlite.ts";

async function append(store: SqliteStore, n: number): Promise<void> {
  for (let done = 0; done < n; ) {
    const batch = Math.min(1000, n - done);
    await store.transaction(async (tx) => {
      for (let i = 0; i < batch; i++)
        await appendAudit(tx, {
          actor: { type: "user", id: "bench" },
          action: "device.config-push",
          target: { type: "device", id: `dev-${done + i}` },
          outcome: "success",
          details: { n: done + i, note: "a typical entry's details" },
        });
    });
    done += batch;
  }
}

export async function run(args: string[]): Promise<void> {
  const entries = Number(args[0] ?? 50_000);
  const added = Number(args[1] ?? 100);
  const dir = mkdtempSync(join(tmpdir(), "bulwark-bench-audit-"));
  const store = new SqliteStore(join(dir, "bench.db"));
  try {
    await migrate(store, migrations);
    await append(store, entries);
    let t = performance.now();
    const full = await verifyAuditChainFull(store);
    const fullMs = performance.now() - t;
    if (full.problem) throw new Error(`the chain does not verify: ${JSON.stringify(full.problem)}`);
    await append(store, added);
    t = performance.now();
    const inc = await verifyAuditChainIncremental(store);
    const incMs = performance.now() - t;
    if (inc.problem || inc.mode !== "incremental" || inc.entries !== added)
      throw new Error(`unexpected incremental result ${JSON.stringify(inc)}`);
    const ratio = incMs / fullMs;
    process.stdout.write(
      `${JSON.stringify({
        bench: "audit-verify",
        metric: "incremental_verify_ms",
        value: Number(incMs.toFixed(1)),
        unit: "ms",
        peer: `full verification of ${entries + added} entries`,
        peer_value: Number(fullMs.toFixed(1)),
        ratio: Number(ratio.toFixed(4)),
        goal: "<= 0.05",
        met: ratio <= 0.05,
        entries: entries + added,
        new_entries: added,
      })}\n`,
    );
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
