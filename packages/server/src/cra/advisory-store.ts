import type { Queryable } from "../store/store.ts";

/** Vulnerabilities of the product that a published advisory covers (Annex I Part II (4)). */
export async function advisedVulnerabilities(db: Queryable, productId: string): Promise<Set<string>> {
  const rows = await db.all<{ vulnerability: string }>(
    `SELECT DISTINCT vulnerability FROM cra_advisory_vulnerabilities WHERE product_id = ?`,
    [productId],
  );
  return new Set(rows.map((r) => r.vulnerability));
}

/** Releases of the product that carry a published advisory (Annex I Part II (8)). */
export async function advisedReleases(db: Queryable, productId: string): Promise<Set<string>> {
  const rows = await db.all<{ release_id: string }>(
    `SELECT DISTINCT release_id FROM cra_advisories WHERE product_id = ? AND release_id IS NOT NULL`,
    [productId],
  );
  return new Set(rows.map((r) => r.release_id));
}

export interface PublishedAdvisory {
  id: string;
  productId: string;
  trackingId: string;
  releaseId: string | null;
  vulnerabilities: string[];
  document: string;
  sha512: string;
  signature: string | null;
  publishedAt: number;
  /** CSAF 2.0 §6.2 recommended-test findings of the validator run at publication (absent: not run). */
  warnings?: { test: string; path: string; message: string }[];
}

/** Stores a published advisory and indexes the vulnerabilities it covers (caller's transaction). */
export async function recordAdvisory(tx: Queryable, a: PublishedAdvisory, by: string | null): Promise<void> {
  await tx.run(
    `INSERT INTO cra_advisories (id, product_id, tracking_id, release_id, vulnerabilities, document, sha512, signature,
      published_at, created_by, validation_warnings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      a.id,
      a.productId,
      a.trackingId,
      a.releaseId,
      JSON.stringify(a.vulnerabilities),
      a.document,
      a.sha512,
      a.signature,
      a.publishedAt,
      by,
      a.warnings ? JSON.stringify(a.warnings) : null,
    ],
  );
  for (const v of new Set(a.vulnerabilities))
    await tx.run(
      `INSERT INTO cra_advisory_vulnerabilities (advisory_id, product_id, vulnerability) VALUES (?, ?, ?)`,
      [a.id, a.productId, v],
    );
}

export interface AdvisoryRow {
  id: string;
  product_id: string;
  tracking_id: string;
  release_id: string | null;
  vulnerabilities: string;
  document: string;
  sha512: string;
  signature: string | null;
  published_at: number;
  /** JSON array of `{test, path, message}`; null for advisories published before validation ran. */
  validation_warnings: string | null;
}

/** Published advisories, newest first (every product when `productId` is not given). */
export async function listAdvisories(db: Queryable, productId?: string): Promise<AdvisoryRow[]> {
  return db.all<AdvisoryRow>(
    `SELECT id, product_id, tracking_id, release_id, vulnerabilities, document, sha512, signature, published_at,
       validation_warnings
     FROM cra_advisories ${productId ? "WHERE product_id = ?" : ""} ORDER BY published_at DESC, tracking_id DESC`,
    productId ? [productId] : [],
  );
}

/** An advisory's row without its document (what listings, feeds and lookups need). */
export type AdvisoryHead = Omit<AdvisoryRow, "document">;

/** Every published advisory's head, newest first: the public distribution lists these. */
export async function listAdvisoryHeads(db: Queryable): Promise<AdvisoryHead[]> {
  return db.all<AdvisoryHead>(
    `SELECT id, product_id, tracking_id, release_id, vulnerabilities, sha512, signature, published_at,
       validation_warnings
     FROM cra_advisories ORDER BY published_at DESC, tracking_id DESC`,
  );
}

/** One advisory's stored document (the exact bytes that were hashed and signed). */
export async function advisoryDocument(db: Queryable, id: string): Promise<string | undefined> {
  return (await db.get<{ document: string }>(`SELECT document FROM cra_advisories WHERE id = ?`, [id]))
    ?.document;
}
