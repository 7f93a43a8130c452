import type { Store } from "../store/store.ts";
import { appendAudit } from "./audit-log.ts";
import { auditAnchor, putSetting, setAuditAnchor } from "./checkpoints.ts";

/**
 * Retention (CRA Annex I Part I (2)(l) recording, balanced with data minimisation (2)(g)): entries
 * older than the retention period are pruned, but only up to a signed checkpoint, which becomes
 * the anchor that verification starts from; the chain after it stays verifiable.
 */
const SETTING = "audit.retention-days";
const DAY_MS = 24 * 3600 * 1000;

export async function retentionDays(store: Pick<Store, "get">): Promise<number | null> {
  const row = await store.get<{ value: string }>(`SELECT value FROM settings WHERE key = ?`, [SETTING]);
  return row ? (JSON.parse(row.value) as number | null) : null;
}

export async function setRetentionDays(
  store: Parameters<typeof putSetting>[0],
  days: number | null,
): Promise<void> {
  await putSetting(store, SETTING, JSON.stringify(days));
}

export interface PruneResult {
  pruned: number;
  anchor: { seq: number; hash: string } | null;
}

/** Prunes up to the newest checkpoint whose entry is older than the cutoff; nothing if none. */
export async function pruneAudit(store: Store, now = Date.now()): Promise<PruneResult> {
  const days = await retentionDays(store);
  if (days === null) return { pruned: 0, anchor: await auditAnchor(store) };
  return store.transaction(async (tx) => {
    const checkpoint = await tx.get<{ seq: number; hash: string }>(
      `SELECT c.seq, c.hash FROM audit_checkpoints c JOIN audit_log l ON l.seq = c.seq
       WHERE l.at < ? ORDER BY c.seq DESC LIMIT 1`,
      [now - days * DAY_MS],
    );
    const current = await auditAnchor(tx);
    if (!checkpoint || Number(checkpoint.seq) <= (current?.seq ?? 0)) return { pruned: 0, anchor: current };
    const anchor = { seq: Number(checkpoint.seq), hash: checkpoint.hash };
    const { changes } = await tx.run(`DELETE FROM audit_log WHERE seq <= ?`, [anchor.seq]);
    // Older checkpoints point into pruned entries; the anchor's own checkpoint is kept.
    await tx.run(`DELETE FROM audit_checkpoints WHERE seq < ?`, [anchor.seq]);
    await setAuditAnchor(tx, anchor);
    await appendAudit(tx, {
      actor: { type: "system" },
      action: "audit.prune",
      outcome: "success",
      details: { pruned: changes, anchorSeq: anchor.seq, retentionDays: days },
    });
    return { pruned: changes, anchor };
  });
}
