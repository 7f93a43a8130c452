import type { Queryable } from "../store/store.ts";
import type { UpdateEvidence } from "./evidence/platform.ts";

/**
 * The updates domain's live state as CRA evidence (Annex I Part I (2)(c), (f); Part II (7), (8)):
 * a product's TUF repository is live when it has published a timestamp (TUF spec §5.3: a client
 * starts from it), and a security release counts as delivered once one device installed it.
 * Read-only queries over the updates domain's tables; the updates domain stays their one writer.
 */
export const updateEvidence: UpdateEvidence = {
  async repository(db: Queryable, productId: string) {
    const repo = await db.get<{ updated_at: number; files: number; timestamp: number }>(
      `SELECT r.updated_at,
              (SELECT COUNT(*) FROM tuf_files f WHERE f.product_id = r.product_id) AS files,
              (SELECT COUNT(*) FROM tuf_files f WHERE f.product_id = r.product_id
                 AND f.name = 'timestamp.json') AS timestamp
         FROM tuf_repositories r WHERE r.product_id = ?`,
      [productId],
    );
    if (!repo) return null;
    const active = Number(repo.timestamp) > 0;
    const when = new Date(Number(repo.updated_at)).toISOString();
    return {
      active,
      detail: active
        ? `TUF repository with ${Number(repo.files)} metadata file(s), hybrid-signed, updated ${when}`
        : "TUF repository created but nothing published yet",
    };
  },
  async deliveredSecurityReleases(db: Queryable, productId: string) {
    const row = await db.get<{ n: number }>(
      `SELECT COUNT(DISTINCT d.release_id) AS n
         FROM deployments d
         JOIN releases r ON r.id = d.release_id
        WHERE d.product_id = ? AND r.classification = 'security'
          AND EXISTS (SELECT 1 FROM deployment_jobs j WHERE j.deployment_id = d.id AND j.state = 'succeeded')`,
      [productId],
    );
    return Number(row?.n ?? 0);
  },
};
