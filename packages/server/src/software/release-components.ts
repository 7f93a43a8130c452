import type { Queryable } from "../store/store.ts";
import { RELEASE_SPAN, releaseIdPrefix } from "./ids.ts";
import { allocate } from "./sql.ts";

/**
 * What the re-match works from, kept up to date as SBOMs are stored: each release's number and
 * finding-id prefix (`release_keys`), each distinct matchable component purl once
 * (`component_purls`: package key, ecosystem, name, version), and which releases hold which purls
 * (`release_components`). A component is matchable when it has a purl, a package key and a version.
 */

/** The release's number, given one on first use (under the `release` counter). */
export async function releaseNumber(tx: Queryable, releaseId: string): Promise<number> {
  const known = await tx.get<{ release_no: number }>(
    `SELECT release_no FROM release_keys WHERE release_id = ?`,
    [releaseId],
  );
  if (known) return Number(known.release_no);
  const no = await allocate(tx, "release", 1);
  if (no >= RELEASE_SPAN) throw new Error(`more than ${RELEASE_SPAN - 1} releases hold SBOMs`);
  await tx.run(`INSERT INTO release_keys (release_id, release_no, id_prefix) VALUES (?, ?, ?)`, [
    releaseId,
    no,
    releaseIdPrefix(),
  ]);
  return no;
}

const MATCHABLE = `c.purl IS NOT NULL AND c.package_key IS NOT NULL AND c.version IS NOT NULL`;

/** Registers the matchable components of one stored SBOM (caller's transaction). */
export async function registerComponents(tx: Queryable, releaseId: string, sbomId: string): Promise<void> {
  const releaseNo = await releaseNumber(tx, releaseId);
  // The first SBOM naming a purl decides its name and version as shown on findings (a concurrent
  // transaction may store the same purl first: ON CONFLICT keeps its row).
  await tx.run(
    `INSERT INTO component_purls (purl, package_key, ecosystem, package_name, name, version)
      SELECT c.purl, MIN(c.package_key), MIN(c.ecosystem), MIN(c.package_name), MIN(c.name), MIN(c.version)
      FROM sbom_components c WHERE c.sbom_id = ? AND ${MATCHABLE}
      AND NOT EXISTS (SELECT 1 FROM component_purls k WHERE k.purl = c.purl) GROUP BY c.purl
      ON CONFLICT (purl) DO NOTHING`,
    [sbomId],
  );
  await tx.run(
    `INSERT INTO release_components (purl, release_no)
      SELECT DISTINCT c.purl, CAST(? AS INTEGER) FROM sbom_components c WHERE c.sbom_id = ? AND ${MATCHABLE}
      ON CONFLICT (purl, release_no) DO NOTHING`,
    [releaseNo, sbomId],
  );
}
