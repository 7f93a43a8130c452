/**
 * Each SBOM as it was uploaded (issue #16 item 8): the exact bytes, content-addressed by their
 * SHA-256 (the `sboms.sha256` of every SBOM with that text, so one copy serves them all), gzip-
 * compressed from 16 KiB (SBOM JSON shrinks tenfold or more). Kept in the store, in the upload's
 * own transaction, so an SBOM row never exists without its original on any node of a cluster. The
 * CRA technical documentation ships these bytes, not a re-serialisation of the parsed model.
 */
import { createHash } from "node:crypto";
import { gunzipSync, gzipSync } from "node:zlib";
import { BulwarkError } from "@bulwark/sdk/errors";
import type { Queryable } from "../store/store.ts";

/** From this size the original is stored gzip-compressed. */
export const COMPRESS_FROM_BYTES = 16 * 1024;

export type RawEncoding = "identity" | "gzip";

/** The original as it is stored: its digest, length and (maybe compressed) content. */
export interface PackedSbom {
  sha256: string;
  bytes: number;
  encoding: RawEncoding;
  content: Uint8Array;
}

/**
 * Digests and compresses the uploaded text's UTF-8 bytes. CPU work on a large SBOM (tens of
 * milliseconds per megabyte): the parser does it on its worker thread, beside the parsing.
 */
export function packRawSbom(text: string): PackedSbom {
  const bytes = Buffer.from(text, "utf8");
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const encoding: RawEncoding = bytes.length >= COMPRESS_FROM_BYTES ? "gzip" : "identity";
  const content = encoding === "gzip" ? gzipSync(bytes, { level: 6 }) : bytes;
  // A plain Uint8Array, the same on this thread and after crossing from a worker.
  return {
    sha256,
    bytes: bytes.length,
    encoding,
    content: new Uint8Array(content.buffer, content.byteOffset, content.length),
  };
}

/** Stores a packed original under its SHA-256, once (caller's transaction). */
export async function storeRawSbom(tx: Queryable, packed: PackedSbom, now = Date.now()): Promise<string> {
  await tx.run(
    `INSERT INTO sbom_raw (sha256, bytes, encoding, content, created_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (sha256) DO NOTHING`,
    [packed.sha256, packed.bytes, packed.encoding, Buffer.from(packed.content), now],
  );
  return packed.sha256;
}

export interface RawSbom {
  sbomId: string;
  releaseId: string;
  productId: string;
  releaseVersion: string;
  format: "cyclonedx" | "spdx";
  sha256: string;
  /** The original bytes, or undefined for an SBOM stored before originals were kept. */
  bytes: Buffer | undefined;
}

interface Row {
  id: string;
  release_id: string;
  product_id: string;
  version: string;
  format: "cyclonedx" | "spdx";
  sha256: string;
  encoding: RawEncoding | null;
  content: Uint8Array | null;
}

function decode(row: Row): Buffer | undefined {
  if (row.content === null) return undefined;
  const stored = Buffer.from(row.content);
  const bytes = row.encoding === "gzip" ? gunzipSync(stored) : stored;
  // The key is the digest of the bytes: a stored copy that no longer matches is not handed out.
  if (createHash("sha256").update(bytes).digest("hex") !== row.sha256)
    throw new BulwarkError(
      "BW_ERR_INTERNAL",
      `the stored original of SBOM ${row.id} does not match its SHA-256`,
    );
  return bytes;
}

const SELECT = `SELECT s.id, s.release_id, r.product_id, r.version, s.format, s.sha256, w.encoding, w.content
  FROM sboms s JOIN releases r ON r.id = s.release_id LEFT JOIN sbom_raw w ON w.sha256 = s.sha256`;

/** One SBOM with its original bytes; undefined when there is no such SBOM. */
export async function rawSbom(db: Queryable, sbomId: string): Promise<RawSbom | undefined> {
  const row = await db.get<Row>(`${SELECT} WHERE s.id = ?`, [sbomId]);
  return row === undefined ? undefined : toRaw(row);
}

/** Every SBOM of a product's releases with its original bytes, oldest first. */
export async function productRawSboms(db: Queryable, productId: string): Promise<RawSbom[]> {
  const rows = await db.all<Row>(`${SELECT} WHERE r.product_id = ? ORDER BY s.created_at, s.id`, [productId]);
  return rows.map(toRaw);
}

function toRaw(row: Row): RawSbom {
  return {
    sbomId: row.id,
    releaseId: row.release_id,
    productId: row.product_id,
    releaseVersion: row.version,
    format: row.format,
    sha256: row.sha256,
    bytes: decode(row),
  };
}

/** The media type of the original (CycloneDX §1.6 JSON: application/vnd.cyclonedx+json; SPDX: application/spdx+json). */
export const rawMediaType = (format: RawSbom["format"]): string =>
  format === "cyclonedx" ? "application/vnd.cyclonedx+json" : "application/spdx+json";

/** A file name for the original: `<sbom id>.cdx.json` / `.spdx.json`. */
export const rawFileName = (raw: Pick<RawSbom, "sbomId" | "format">): string =>
  `${raw.sbomId}.${raw.format === "cyclonedx" ? "cdx" : "spdx"}.json`;
