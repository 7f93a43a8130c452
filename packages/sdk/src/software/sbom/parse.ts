/**
 * Entry point for reading SBOMs: CycloneDX 1.2-1.6 JSON and SPDX 2.2/2.3 JSON (validated against the
 * official schemas), SPDX 3.0.1 JSON-LD (structural checks only). Size and nesting are bounded before
 * the text is parsed.
 */
import { open } from "node:fs/promises";
import { SoftwareError } from "../errors.ts";
import {
  checkComponentCount,
  checkDepth,
  checkSize,
  DEFAULT_MAX_SBOM_BYTES,
  type SbomLimits,
} from "./bounds.ts";
import { normalizeCyclonedx } from "./cyclonedx.ts";
import type { SbomDocument } from "./model.ts";
import { type SchemaId, validateSchema } from "./schema.ts";
import { normalizeSpdx } from "./spdx.ts";
import { isSpdx3, normalizeSpdx3 } from "./spdx3.ts";

export interface ParseSbomOptions extends SbomLimits {
  /** Names the document in errors (a file path). */
  source?: string;
}

const CYCLONEDX_VERSIONS = new Set(["1.2", "1.3", "1.4", "1.5", "1.6"]);

function unsupported(message: string, source: string | undefined): never {
  throw new SoftwareError("BW_ERR_SBOM_UNSUPPORTED", message, { path: source });
}

/** Parses, validates and normalises one SBOM document given as text. */
export function parseSbomText(text: string, options: ParseSbomOptions = {}): SbomDocument {
  const source = options.source;
  checkSize(Buffer.byteLength(text, "utf8"), options, source);
  const head = text.trimStart().slice(0, 64);
  if (head.startsWith("<")) unsupported("XML SBOMs are not supported; use the JSON serialisation", source);
  if (/^SPDXVersion:/i.test(head))
    unsupported("SPDX tag-value is not supported; use the JSON serialisation", source);
  checkDepth(text, options, source);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new SoftwareError("BW_ERR_SBOM_INVALID", `not valid JSON: ${(e as Error).message}`, {
      path: source,
      cause: e,
    });
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new SoftwareError("BW_ERR_SBOM_INVALID", "the document is not a JSON object", { path: source });
  }
  const o = doc as Record<string, unknown>;
  checkComponentCount(o, options, source);
  // CycloneDX §bomFormat: "CycloneDX"; §specVersion.
  if (o["bomFormat"] === "CycloneDX") {
    const v = o["specVersion"];
    if (typeof v !== "string" || !CYCLONEDX_VERSIONS.has(v)) {
      unsupported(`CycloneDX specVersion ${JSON.stringify(v)} is not supported (1.2-1.6)`, source);
    }
    validateSchema(`cyclonedx-${v}` as SchemaId, doc, source);
    return normalizeCyclonedx(o);
  }
  // SPDX 2.3 §6.1: spdxVersion "SPDX-M.N". SPDX 2.2 documents are validated with the 2.3 schema (a superset).
  if (typeof o["spdxVersion"] === "string") {
    const v = o["spdxVersion"];
    if (v !== "SPDX-2.3" && v !== "SPDX-2.2")
      unsupported(`SPDX version ${JSON.stringify(v)} is not supported (2.2, 2.3, 3.0)`, source);
    validateSchema("spdx-2.3", doc, source);
    return normalizeSpdx(o);
  }
  if (isSpdx3(o)) return normalizeSpdx3(o, source);
  return unsupported("neither a CycloneDX nor an SPDX JSON document", source);
}

/** Reads an SBOM file, refusing it by its size before reading when it is over the limit. */
export async function readSbomFile(path: string, options: SbomLimits = {}): Promise<SbomDocument> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, "r");
  } catch (e) {
    throw new SoftwareError("BW_ERR_SBOM_INVALID", `cannot read SBOM: ${(e as Error).message}`, {
      path,
      cause: e,
    });
  }
  try {
    const { size } = await handle.stat();
    checkSize(size, { maxBytes: options.maxBytes ?? DEFAULT_MAX_SBOM_BYTES }, path);
    const text = await handle.readFile("utf8");
    return parseSbomText(text, { ...options, source: path });
  } finally {
    await handle.close();
  }
}
