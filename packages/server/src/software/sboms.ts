import { createHash, randomUUID } from "node:crypto";
import type { MinimumElementsReport } from "@bulwark/sdk/software/sbom/minimum-elements";
import type { SbomDocument } from "@bulwark/sdk/software/sbom/model";
import type { Queryable, SqlValue } from "../store/store.ts";
import { storedPackageKey } from "./advisories.ts";
import { registerComponents } from "./release-components.ts";
import { type PackedSbom, packRawSbom, storeRawSbom } from "./sbom-raw.ts";
import { insertMany } from "./sql.ts";

/** A stored SBOM: which release it belongs to, what it is, and its minimum-elements report. */
export interface StoredSbom {
  id: string;
  releaseId: string;
  format: SbomDocument["format"];
  specVersion: string;
  documentId: string | null;
  name: string | null;
  sha256: string;
  components: number;
  minimumElements: MinimumElementsReport;
  createdAt: number;
}

const COMPONENT_COLUMNS = [
  "sbom_id",
  "release_id",
  "ref",
  "parent_ref",
  "name",
  "version",
  "purl",
  "ecosystem",
  "package_name",
  "package_key",
];

/** Component rows; a ref repeated in a document keeps its first occurrence's identity with a suffix. */
function componentRows(sbomId: string, releaseId: string, doc: SbomDocument): SqlValue[][] {
  const seen = new Map<string, number>();
  return doc.components.map((c) => {
    const n = (seen.get(c.ref) ?? 0) + 1;
    seen.set(c.ref, n);
    const key =
      c.ecosystem !== undefined && c.packageName !== undefined
        ? storedPackageKey(c.ecosystem, c.packageName)
        : null;
    return [
      sbomId,
      releaseId,
      n === 1 ? c.ref : `${c.ref}#${n}`,
      c.parentRef ?? null,
      c.name,
      c.version ?? null,
      c.purl ?? null,
      c.ecosystem ?? null,
      c.packageName ?? null,
      key,
    ];
  });
}

/** Stores a validated SBOM and its normalised components against a release (caller's transaction). */
export async function insertSbom(
  tx: Queryable,
  releaseId: string,
  parsed: { document: SbomDocument; minimumElements: MinimumElementsReport; original?: PackedSbom },
  text: string,
  now = Date.now(),
): Promise<StoredSbom> {
  const { document: doc, minimumElements: report } = parsed;
  const sbom: StoredSbom = {
    id: randomUUID(),
    releaseId,
    format: doc.format,
    specVersion: doc.specVersion,
    documentId: doc.id ?? null,
    name: doc.name ?? null,
    sha256: createHash("sha256").update(text).digest("hex"),
    components: doc.components.length,
    minimumElements: report,
    createdAt: now,
  };
  await tx.run(
    `INSERT INTO sboms (id, release_id, format, spec_version, document_id, name, sha256, components,
      minimum_elements, ntia_conforms, bsi_conforms, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      sbom.id,
      releaseId,
      sbom.format,
      sbom.specVersion,
      sbom.documentId,
      sbom.name,
      sbom.sha256,
      sbom.components,
      JSON.stringify(report),
      report.ntiaConforms ? 1 : 0,
      report.bsiConforms ? 1 : 0,
      now,
    ],
  );
  // The original bytes, kept under the same SHA-256 (issue #16 item 8).
  const original = parsed.original ?? packRawSbom(text);
  if (original.sha256 !== sbom.sha256) throw new Error("the packed original is not the text being stored");
  await storeRawSbom(tx, original, now);
  await insertMany(tx, "sbom_components", COMPONENT_COLUMNS, componentRows(sbom.id, releaseId, doc));
  await registerComponents(tx, releaseId, sbom.id);
  return sbom;
}

interface SbomRow {
  id: string;
  release_id: string;
  format: SbomDocument["format"];
  spec_version: string;
  document_id: string | null;
  name: string | null;
  sha256: string;
  components: number;
  minimum_elements: string;
  created_at: number;
}

export async function listSboms(db: Queryable, releaseId: string): Promise<StoredSbom[]> {
  const rows = await db.all<SbomRow>(`SELECT * FROM sboms WHERE release_id = ? ORDER BY created_at`, [
    releaseId,
  ]);
  return rows.map((r) => ({
    id: r.id,
    releaseId: r.release_id,
    format: r.format,
    specVersion: r.spec_version,
    documentId: r.document_id,
    name: r.name,
    sha256: r.sha256,
    components: Number(r.components),
    minimumElements: JSON.parse(r.minimum_elements) as MinimumElementsReport,
    createdAt: Number(r.created_at),
  }));
}
